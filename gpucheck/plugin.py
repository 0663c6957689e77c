"""pytest plugin: options and hooks only. Work happens in gpucheck.run and the modules below it.

`pytest --gpucheck` runs the bundled suites (even from an empty directory), evaluates the
checks, writes the report once (on the controller under xdist) and sets the exit status by
gpucheck's policy (see gpucheck.exitcodes).
"""

from __future__ import annotations

import json
import signal
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import pytest

from gpucheck import catalog, exitcodes, report, signals
from gpucheck.config import OPTIONS, SettingsError, resolve
from gpucheck.model import CheckResult
from gpucheck.run import RESULT_KEY, RunState

SESSION = pytest.StashKey["GpucheckSession"]()


def suites_dir() -> Path:
    return Path(str(resources.files("gpucheck._suites")))


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("gpucheck", "GPU readiness checks (gpucheck)")
    g.addoption("--gpucheck", action="store_true", default=False,
                help="Run gpucheck's readiness checks against a cluster and write a report.")
    g.addoption("--gpucheck-kubeconfig", default=None, metavar="PATH", help="Kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
    g.addoption("--gpucheck-context", default=None, metavar="NAME", help="Kubeconfig context.")
    g.addoption("--gpucheck-namespace", default=None, metavar="NS",
                help="Workspace namespace for probe pods (default: one is created and removed per run).")
    g.addoption("--gpucheck-profile", default=None, metavar="quick|standard|full",
                help="quick = API only; standard (default) = + probe pods; full = + the Airflow sweep.")
    g.addoption("--gpucheck-select", default=None, metavar="IDS", help="Only these check ids (comma-separated).")
    g.addoption("--gpucheck-skip", default=None, metavar="IDS", help="Skip these check ids (comma-separated).")
    g.addoption("--gpucheck-report", default=None, metavar="DIR",
                help=f"Write report.json, junit.xml, report.md and report.html here (default: ./{report.DEFAULT_DIR}).")
    g.addoption("--gpucheck-config", default=None, metavar="FILE", help="YAML expectations (taint keys, minimum driver, ...).")
    g.addoption("--gpucheck-fail-on", default=None, metavar="critical|major|warn",
                help="Lowest severity that makes the verdict NOT_READY (default: major).")
    g.addoption("--gpucheck-timeout", default=None, metavar="SECONDS", help="Deadline for the whole run (default: 600).")
    g.addoption("--gpucheck-baseline", default=None, metavar="FILE",
                help="Gate against this baseline: GPU-GATE-001 fails on any regression since it was saved.")
    g.addoption("--gpucheck-save-baseline", default=None, metavar="FILE",
                help="After the run, write the cluster's GPU fingerprint and check results to FILE.")
    g.addoption("--gpucheck-allow", default=None, action="append", metavar="KIND",
                help="A change the upgrade intends, not a regression (repeatable): driver, cuda, device-plugin, "
                     "mig, nodes.")
    g.addoption("--gpucheck-publish-configmap", default=None, metavar="NS",
                help="After the report, publish its JSON summary as ConfigMap gpucheck-report-<run id> in NS.")
    g.addoption("--gpucheck-keep-reports", default=None, metavar="N",
                help="Summary ConfigMaps to keep in that namespace; older ones are deleted (default: 14).")
    g.addoption("--gpucheck-pushgateway", default=None, metavar="URL",
                help="Push verdict, score and per-check status to this Prometheus Pushgateway.")
    g.addoption("--gpucheck-cluster-name", default=None, metavar="NAME",
                help="The `cluster` grouping key of pushed metrics (default: the API server's host).")


def _cli_values(config: pytest.Config) -> dict[str, Any]:
    return {name: config.getoption(opt.lstrip("-").replace("-", "_")) for name, (opt, _) in OPTIONS.items()}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpucheck: a gpucheck readiness check")
    if not config.getoption("gpucheck"):
        return
    try:
        settings = resolve(cli=_cli_values(config))
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", None)
    state = RunState(settings)
    if workerinput is not None and "gpucheck_run_id" in workerinput:
        state.run_id = workerinput["gpucheck_run_id"]
    if workerinput is None:
        from gpucheck.baseline.store import BaselineError

        try:  # before any check runs: a gate with an unusable baseline is a usage error
            state.load_baseline()
        except BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
    session = GpucheckSession(state, config, is_worker=workerinput is not None)
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "gpucheck-session")
    # SIGTERM (a CronJob's deadline, `kubectl delete pod`, CI cancelling a job) ends the run
    # as Ctrl-C does: checks stop, probe pods and the workspace are removed, the report is
    # written, exit code 2. Python's default would die on the spot and leave pods behind.
    session.previous_sigterm = signals.sigterm_interrupts()
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(suites_dir())]


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        del config.stash[SESSION]
        config.pluginmanager.unregister(session)
        if session.previous_sigterm is not None:
            signal.signal(signal.SIGTERM, session.previous_sigterm)


def _check_ids(item: pytest.Item) -> tuple[str, ...]:
    """The check ids a suite test records: its `check_id`, every check of its `probe`, or the
    sweep's checks."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or not item.get_closest_marker("gpucheck"):
        return ()
    if "check_id" in callspec.params:
        return (str(callspec.params["check_id"]),)
    if "probe" in callspec.params:
        from gpucheck.probes import GROUPS

        return GROUPS.get(str(callspec.params["probe"]), ())
    if "sweep" in callspec.params:
        from gpucheck.sweep.check import CHECKS

        return CHECKS
    return ()


class GpucheckSession:
    """The hooks of one `--gpucheck` run. Workers evaluate and attach results to their test
    reports; the controller (or a lone process) collects them and writes the report."""

    def __init__(self, state: RunState, config: pytest.Config, is_worker: bool):
        self.state = state
        self.config = config
        self.is_worker = is_worker
        self.report: report.Report | None = None
        self.paths: dict[str, str] = {}
        self.previous_sigterm: Any = None
        self.baseline_note: str | None = None  # what became of --gpucheck-save-baseline
        self.published: list[str] = []
        self.publish_problems: list[str] = []
        self.code = exitcodes.INTERNAL
        self.interrupted = False
        self.started = False  # pytest_sessionstart completed: pytest will call sessionfinish
        # `--collect-only` lists the checks a run would make: nothing is evaluated, so
        # nothing touches the cluster and no report replaces the last real one.
        self.collect_only = bool(config.getoption("collectonly"))

    @pytest.hookimpl(tryfirst=True)  # first: pytest's own reporting of an interrupt can fail
    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True
        if self.is_worker or self.started or self.report is not None:
            return
        # Interrupted while pytest configured or started the session: pytest skips
        # sessionfinish then, so the run wraps up here, its report saying it was interrupted.
        with signals.deferred():  # the interrupt is being handled: a second one must not cut this short
            problems = self.wrap_up(interrupted=True)
        # Before configure has finished there may be no terminal reporter yet.
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        write = reporter.write_line if reporter is not None else print
        for problem in problems:
            write(f"gpucheck: warning: {problem}")
        for line in self.summary_lines():
            write(line)

    def wrap_up(self, interrupted: bool) -> list[str]:
        """Remove what the run created, decide, write the report, publish it; returns the
        problems to warn about. The controller's last act, whichever way the run ended."""
        if self.collect_only:
            return []
        problems = []
        problem = self.state.cleanup()
        if problem:
            problems.append(problem)
        self.report, code = self.state.finish(interrupted=interrupted)
        self.paths = report.write_all(self.report, self.state.settings.report_dir)
        self.published, self.publish_problems = self.state.publish(self.report)
        if self.publish_problems and code == exitcodes.READY:
            code = exitcodes.PUBLISH_FAILED  # visible in CI and as a failed Job; a NOT_READY stays 1
        self.code = code
        return problems + self.publish_problems

    def summary_lines(self) -> list[str]:
        """The readiness summary the terminal shows at the end."""
        from gpucheck.report import terminal

        if self.report is None:
            return []
        out = terminal.lines(self.report, self.paths)
        if self.baseline_note:
            out.append(self.baseline_note)
        out += self.published
        out += [f"not published: {problem}" for problem in self.publish_problems]
        return out

    @pytest.hookimpl(trylast=True)  # last, so `started` means every plugin's sessionstart ran
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # The controller (or a lone process) sweeps up what killed runs left, before this run
        # adds its own objects; workers share the controller's run and leave it to it.
        if not self.is_worker and not self.collect_only:
            line = self.state.janitor()
            if line:
                session.config.get_terminal_writer().line(f"gpucheck: janitor: {line}")
        self.started = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: every worker labels its probe pods with the controller's run id."""
        node.workerinput["gpucheck_run_id"] = self.state.run_id

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        wanted = set(self.state.expected())
        keep, drop = [], []
        for item in items:
            ids = _check_ids(item)
            (drop if ids and not wanted.intersection(ids) else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        outcome = yield
        rep = outcome.get_result()
        ids = _check_ids(item)
        if not ids or call.excinfo is None or rep.when == "teardown":
            return
        if any(k == RESULT_KEY for k, _ in item.user_properties) or call.excinfo.errisinstance(
                (pytest.skip.Exception, pytest.fail.Exception)):
            return
        # The check crashed before recording: fail closed with the reason, not a traceback.
        for cid in ids:
            err = CheckResult.error(cid, f"the check raised {call.excinfo.typename}: {call.excinfo.value}")
            item.user_properties.append((RESULT_KEY, json.dumps(err.to_json())))
        rep.user_properties = list(item.user_properties)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        for key, value in report.user_properties:
            if key == RESULT_KEY:
                self.state.add(CheckResult.from_json(json.loads(value)))

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Iterator[None]:
        # The innermost wrapper: after every plugin's own sessionfinish (xdist's stops the
        # workers), before the terminal reporter prints the summary. Workers' probe pods are
        # deleted as each probe ends; the controller (or a lone process) owns the run's
        # workspace and removes it last, which also takes a lost worker's pods.
        try:
            return (yield)
        except KeyboardInterrupt:
            self.interrupted = True
            raise
        finally:
            if not self.is_worker:
                with signals.deferred() as came:  # a signal now must not cut cleanup or report short
                    self._finish(session, exitstatus)
                if came:
                    session.exitstatus = exitcodes.INTERRUPTED

    def _finish(self, session: pytest.Session, exitstatus: int) -> None:
        # self.interrupted too: pytest may fail while reporting the interrupt before it sets
        # the exit status.
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED or self.interrupted
        for problem in self.wrap_up(interrupted=interrupted):
            session.config.get_terminal_writer().line(f"gpucheck: warning: {problem}", yellow=True)
        if self.collect_only or interrupted or exitstatus in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
            return
        code = self.code
        session.exitstatus = code
        target = self.state.settings.save_baseline
        if target:
            problem = self.state.save_baseline(self.report)
            self.baseline_note = f"gpucheck: error: {problem}" if problem else \
                f"baseline: {target} written (verdict {self.report.verdict})"
            if problem and code == exitcodes.READY:
                session.exitstatus = exitcodes.USAGE  # asked for a baseline and got none: not a success

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Iterator[None]:
        # The outermost wrapper: the readiness summary comes after pytest's own sections
        # (failures, short summary), right above the final counts line.
        yield
        if self.collect_only and not self.is_worker:
            ids = self.state.expected()
            terminalreporter.section("gpucheck readiness")
            terminalreporter.write_line(
                f"collect-only: {len(ids)} check(s) of the {self.state.settings.profile!r} profile "
                f"would run: {', '.join(ids)}")
            terminalreporter.write_line("nothing was evaluated; no report written")
            return
        if self.report is None:
            return
        terminalreporter.section("gpucheck readiness")
        for line in self.summary_lines():
            terminalreporter.write_line(line, red=line.startswith("gpucheck: error"),
                                        yellow=line.startswith("not published:"))


@pytest.fixture
def gpucheck(request: pytest.FixtureRequest) -> Iterator["CheckContext"]:
    session = request.config.stash.get(SESSION, None)
    if session is None:
        pytest.skip("gpucheck checks run only with --gpucheck")
    yield CheckContext(session.state, request.node)


class CheckContext:
    """What a suite test sees: settings, the run state (snapshot, cluster) and `record`."""

    def __init__(self, state: RunState, node: pytest.Item):
        self.state = state
        self.settings = state.settings
        self._node = node

    def record(self, *results: CheckResult) -> None:
        """Record check results and give the test the outcome of the worst of them."""
        for result in results:
            self._node.user_properties.append((RESULT_KEY, json.dumps(result.to_json())))
        failing = [r for r in results if r.status.value in ("FAIL", "ERROR")]
        if failing:
            lines = []
            for r in failing:
                fix = catalog.get(r.id).remediation if r.status.value == "FAIL" else ""
                lines.append(f"{r.id} {r.status.value}: {r.summary}" + (f"\nfix: {fix}" if fix else ""))
            pytest.fail("\n".join(lines), pytrace=False)
        if results and all(r.status.value == "SKIP" for r in results):
            pytest.skip("; ".join(f"{r.id} SKIP: {r.summary}" for r in results))
