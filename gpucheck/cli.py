"""The `gpucheck` command line. Commands parse options and hand work to the modules."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import click

from gpucheck import __version__, exitcodes, signals


def _say(line: str) -> None:
    click.echo(line, err=True)


def _fail(message: str, code: int) -> None:
    click.echo(f"gpucheck: error: {message}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Click's usage errors exit 2; ours exit with the documented USAGE code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.Abort:
            click.echo("gpucheck: interrupted", err=True)
            sys.exit(exitcodes.INTERRUPTED)
        except click.UsageError as exc:
            exc.show()
            sys.exit(exitcodes.USAGE)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exitcodes.USAGE)


# Commands that run the suite release the held signals themselves (run_suite), so that an
# interrupt, even one that came while gpucheck was starting, still ends with a report.
_SUITE_COMMANDS = ("run", "gate", "baseline")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gpucheck")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Is this Kubernetes cluster ready for GPU training?"""
    if ctx.invoked_subcommand not in _SUITE_COMMANDS:
        signals.release()


# -- sim ------------------------------------------------------------------------------------
@cli.group(cls=_Group)
def sim() -> None:
    """A simulated GPU cluster: a real control plane with KWOK nodes."""


_name_opt = click.option("--name", default=lambda: os.environ.get("GPUCHECK_SIM_NAME", "gpucheck"),
                         show_default="gpucheck (or $GPUCHECK_SIM_NAME)", help="Cluster name.")


def _sim_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gpucheck.sim.binaries import BinaryError
        from gpucheck.sim.cluster import SimError
        from gpucheck.sim.processes import ProcessError
        from gpucheck.sim.profiles import ProfileError
        from gpucheck.sim.scenarios import ScenarioError

        try:
            return fn(*args, **kwargs)
        except (ProfileError, ScenarioError) as exc:
            _fail(str(exc), exitcodes.USAGE)
        except (BinaryError, SimError, ProcessError) as exc:
            _fail(str(exc), exitcodes.SIM_FAILED)
        except KeyboardInterrupt:
            _fail("interrupted; the partly started cluster was removed", exitcodes.INTERRUPTED)

    return wrapper


@sim.command("up")
@_name_opt
@click.option("--profile", default="default", show_default=True,
              help="Built-in profile name or a profile YAML file.")
@click.option("--scenario", "scenarios", multiple=True, metavar="SCENARIO",
              help="Fault scenario to apply once up (repeatable). See `gpucheck sim scenarios`.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the cluster.")
@click.option("--owner-pid", type=int, default=None, hidden=True,
              help="Remove this cluster at the next `sim up` once this process is gone.")
@_sim_errors
def sim_up(name: str, profile: str, scenarios: tuple[str, ...], timeout: float, owner_pid: int | None) -> None:
    """Start a simulated cluster (building its binaries on first use)."""
    from gpucheck.sim import cluster

    cluster.prune_orphans(say=_say)
    info = cluster.up(name=name, profile=profile, scenarios=scenarios, owner_pid=owner_pid,
                      timeout=timeout, say=_say)
    click.echo(f"export KUBECONFIG={info.kubeconfig}")


@sim.command("kubeconfig")
@_name_opt
@_sim_errors
def sim_kubeconfig(name: str) -> None:
    """Print the kubeconfig path of a running cluster (on the last line)."""
    from gpucheck.sim import cluster

    info = cluster.info(name)
    if info is None or not info.healthy:
        _fail(f"no running simulated cluster named {name!r}; start one with `gpucheck sim up --name {name}`",
              exitcodes.SIM_FAILED)
    click.echo(str(info.kubeconfig))


@sim.command("status")
@click.option("--name", default=None, help="Only this cluster (default: all).")
@_sim_errors
def sim_status(name: str | None) -> None:
    """Show simulated clusters, their processes and nodes."""
    from gpucheck.sim import cluster, processes

    infos = [i for i in [cluster.info(name)] if i] if name else cluster.list_all()
    if not infos:
        click.echo(f"no simulated cluster{' named ' + repr(name) if name else ''} (under {cluster.sims_root()})")
        if name:
            sys.exit(exitcodes.SIM_FAILED)
        return
    for i in infos:
        state = "running" if i.healthy else i.phase if i.phase != "ready" else "degraded"
        click.echo(f"{i.name}: {state}  profile={i.profile}  server={i.server}")
        if i.scenarios:
            click.echo(f"  scenarios: {', '.join(i.scenarios)}")
        for p in i.procs:
            click.echo(f"  {p.name:<24} pid {p.pid:<8} {'up' if processes.alive(p) else 'DOWN'}  log {p.log}")
        click.echo(f"  kubeconfig: {i.kubeconfig}")
    if name and not infos[0].healthy:
        sys.exit(exitcodes.SIM_FAILED)


@sim.command("down")
@_name_opt
@click.option("--all", "all_", is_flag=True, help="Stop every simulated cluster of this user.")
@_sim_errors
def sim_down(name: str, all_: bool) -> None:
    """Stop a simulated cluster and remove all it left (processes, ports, files)."""
    from gpucheck.sim import cluster

    names = [i.name for i in cluster.list_all()] if all_ else [name]
    for n in names:
        if not cluster.down(n, say=_say) and not all_:
            _say(f"gpucheck sim: no cluster named {n!r}; nothing to do")


@sim.command("build")
def sim_build() -> None:
    """Find or build the control-plane and KWOK binaries into the cache."""
    from gpucheck.sim import binaries

    try:
        found = binaries.ensure_all(progress=_say)
    except binaries.BinaryError as exc:
        _fail(str(exc), exitcodes.SIM_FAILED)
    for b, p in sorted(found.items()):
        click.echo(f"{b:<24} {p}")


@sim.command("profiles")
def sim_profiles() -> None:
    """List the built-in node profiles."""
    from gpucheck.sim import profiles

    for n in profiles.builtin_names():
        p = profiles.load(n)
        click.echo(f"{n:<10} {p.node_count:>4} nodes ({p.gpu_node_count} GPU)  {p.description}")


@sim.command("scenarios")
def sim_scenarios() -> None:
    """List the fault scenarios and the check that must catch each."""
    from gpucheck.sim import scenarios

    for s in scenarios.catalog().values():
        click.echo(f"{s.name:<30} {s.caught_by:<14} {s.description}")


# -- run, checks, report ---------------------------------------------------------------------
_RUN_OPTIONS = (
    click.option("--kubeconfig", default=None, help="Kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)."),
    click.option("--context", default=None, help="Kubeconfig context."),
    click.option("--sim", "sim_name", is_flag=False, flag_value="gpucheck", default=None, metavar="[NAME]",
                 help="Run against a simulated cluster, starting it if needed (default name: gpucheck)."),
    click.option("--namespace", default=None, help="Workspace namespace for probe pods."),
    click.option("--profile", default=None, help="quick | standard (default) | full."),
    click.option("--select", default=None, help="Only these check ids (comma-separated)."),
    click.option("--skip", default=None, help="Skip these check ids (comma-separated)."),
    click.option("--report", "report_dir", default=None, help="Report directory (default: ./gpucheck-report)."),
    click.option("--config", "config_file", default=None, help="YAML expectations file."),
    click.option("--fail-on", default=None, help="critical | major (default) | warn."),
    click.option("--timeout", default=None, help="Deadline for the whole run in seconds (default: 600)."),
    click.option("--publish-configmap", default=None, metavar="NS",
                 help="Publish the JSON summary as a ConfigMap in NS (keeps the newest --keep-reports)."),
    click.option("--keep-reports", default=None, help="Summary ConfigMaps to keep (default: 14)."),
    click.option("--pushgateway", default=None, metavar="URL", help="Push verdict, score, per-check status here."),
    click.option("--cluster-name", default=None, help="`cluster` grouping key of pushed metrics."),
    click.option("-n", "--workers", default=None, help="Run checks in parallel (pytest-xdist), e.g. 2 or auto."),
)


def run_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of `gpucheck run`, for every command that runs the suite; the command
    hands them to run_suite as keyword arguments."""
    for option in reversed(_RUN_OPTIONS):
        fn = option(fn)
    return fn


def run_suite(gpucheck_args: list[str], *, kubeconfig: str | None, context: str | None, sim_name: str | None,
              namespace: str | None, profile: str | None, select: str | None, skip: str | None,
              report_dir: str | None, config_file: str | None, fail_on: str | None, timeout: str | None,
              publish_configmap: str | None, keep_reports: str | None, pushgateway: str | None,
              cluster_name: str | None, workers: str | None, pytest_args: tuple[str, ...]) -> int:
    """Run `pytest --gpucheck` with the run options, plus `gpucheck_args` (more
    --gpucheck-... options); returns pytest's exit code, which follows gpucheck's policy."""
    if sim_name:
        if kubeconfig:
            _fail("give --kubeconfig or --sim, not both", exitcodes.USAGE)
        signals.release()  # starting the cluster takes its own interrupts (it removes what it started)
        kubeconfig = str(_sim_up(sim_name).kubeconfig)
        if not config_file and not os.environ.get("GPUCHECK_CONFIG"):
            from gpucheck.sim import expectations_file

            config_file = expectations_file()
    # Only gpucheck's own plugins: a third-party pytest plugin in the environment neither
    # slows the start (some take seconds to import) nor changes how checks run.
    args = ["--disable-plugin-autoload", "-p", "gpucheck.plugin", "--gpucheck", "-p", "no:cacheprovider",
            f"--rootdir={os.getcwd()}", "--no-header"]
    for opt, value in (("kubeconfig", kubeconfig), ("context", context), ("namespace", namespace),
                       ("profile", profile), ("select", select), ("skip", skip), ("report", report_dir),
                       ("config", config_file), ("fail-on", fail_on), ("timeout", timeout),
                       ("publish-configmap", publish_configmap), ("keep-reports", keep_reports),
                       ("pushgateway", pushgateway), ("cluster-name", cluster_name)):
        if value is not None:
            args.append(f"--gpucheck-{opt}={value}")
    if workers:
        args += ["-p", "xdist.plugin", "-n", workers]
    # Signals stay held while pytest loads and configures its plugins (an interrupt inside an
    # import there would be an internal error); the run takes them from its session's start,
    # and one that came meanwhile interrupts it then, so the report is still written.
    signals.hold()
    import pytest

    class SignalsAtSessionStart:
        @pytest.hookimpl(tryfirst=True)  # before gpucheck's janitor, which must be interruptible
        def pytest_sessionstart(self, session: pytest.Session) -> None:
            signals.release()

    try:
        return int(pytest.main([*args, *gpucheck_args, *pytest_args], plugins=[SignalsAtSessionStart()]))
    except (KeyboardInterrupt, Exception) as exc:
        # An interrupt out of another plugin's sessionfinish, or pytest failing while it
        # reports one (pytest-dev/pytest-xdist#1196 shows that TypeError): gpucheck's own
        # wrap-up ran regardless, and its report is written.
        if not isinstance(exc, KeyboardInterrupt) and not isinstance(exc.__context__, KeyboardInterrupt):
            raise
        _say("gpucheck: interrupted")
        return exitcodes.INTERRUPTED


@cli.command("run", context_settings={"ignore_unknown_options": True})
@run_options
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def run_cmd(**options: Any) -> None:
    """Run the readiness checks and write the report (pytest --gpucheck underneath)."""
    sys.exit(run_suite([], **options))


@_sim_errors
def _sim_up(name: str) -> Any:
    from gpucheck.sim import cluster

    cluster.prune_orphans(say=_say)
    return cluster.up(name=name, say=_say)


@cli.command("clean")
@click.option("--kubeconfig", default=None, help="Kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster).")
@click.option("--context", default=None, help="Kubeconfig context.")
@click.option("--namespace", "namespaces", multiple=True, metavar="NS",
              help="Also look here for pods and claims when the role may not list them cluster-wide (repeatable).")
@click.option("--all", "everything", is_flag=True,
              help="Remove every run's objects, expired or not (only when no gpucheck run is active).")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def clean_cmd(kubeconfig: str | None, context: str | None, namespaces: tuple[str, ...], everything: bool,
              dry_run: bool) -> None:
    """Remove what dead gpucheck runs left: namespaces, pods and claims with a run label."""
    from gpucheck.cluster import janitor
    from gpucheck.cluster.client import connect
    from gpucheck.cluster.errors import ClusterError

    try:
        swept = janitor.run(connect(kubeconfig, context), current_run=None, namespaces=namespaces,
                            everything=everything, dry_run=dry_run)
    except ClusterError as exc:
        _fail(str(exc), exitcodes.UNREACHABLE)
    for ref in swept.removed:
        click.echo(f"{'would remove' if dry_run else 'removed'} {ref}")
    for why in swept.skipped:
        click.echo(f"could not check {why}", err=True)
    click.echo(f"{len(swept.removed)} object(s) {'to remove' if dry_run else 'removed'}, "
               f"{swept.kept} of live runs kept" + (" (--all: none kept)" if everything else ""))


@cli.command("checks")
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
@click.option("--profile", default="full", show_default=True, help="Only checks that run in this profile.")
def checks_cmd(as_json: bool, profile: str) -> None:
    """List the check catalog."""
    import json

    from gpucheck import catalog

    if profile not in catalog.PROFILES:
        _fail(f"--profile: {profile!r} is not one of {', '.join(catalog.PROFILES)}", exitcodes.USAGE)
    items = [c for c in catalog.checks().values() if c.runs_in(profile, catalog.INPUTS)]
    if as_json:
        click.echo(json.dumps([{**c.__dict__, "severity": c.severity.value} for c in items], indent=2))
        return
    for c in items:
        needs = f" (runs with a {c.needs})" if c.needs else ""
        click.echo(f"{c.id:<14} {c.severity.value:<9} {c.profile:<9} {c.category:<14} {c.title}{needs}")


@cli.group("report", cls=_Group)
def report_group() -> None:
    """Work with written reports."""


@report_group.command("render")
@click.argument("report_json", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["html", "md", "junit", "json"]), required=True)
@click.option("-o", "--output", default=None, help="Write here instead of standard output.")
def report_render(report_json: str, fmt: str, output: str | None) -> None:
    """Render a report.json as HTML, Markdown or JUnit XML."""
    import json

    import jsonschema

    from gpucheck import report

    try:
        data = json.loads(open(report_json, encoding="utf-8").read())
    except OSError as exc:
        _fail(f"{report_json}: {exc.strerror}", exitcodes.USAGE)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(f"{report_json} is not JSON: {exc}", exitcodes.USAGE)
    try:
        jsonschema.validate(data, report.schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        _fail(f"{report_json} is not a gpucheck report: {where}: {exc.message}", exitcodes.USAGE)
    text = report.render(report.Report.from_json(data), fmt)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


def _register_smi() -> None:
    from gpucheck.smi.cli import smi as smi_cli

    cli.add_command(smi_cli)


def _register_baseline() -> None:
    from gpucheck.baseline.cli import register

    register(cli, run_options, run_suite)


def _register_deploy() -> None:
    from gpucheck.deploy.cli import deploy as deploy_cli

    cli.add_command(deploy_cli)


_register_smi()
_register_baseline()
_register_deploy()


def main(argv: list[str] | None = None) -> int:
    """The `gpucheck` command: the process's entry point, which exits with what this returns
    (SIGINT and SIGTERM are left held, see gpucheck.signals)."""
    signals.hold()  # as gpucheck.__main__ does, for callers that come straight here
    try:
        cli.main(args=argv, prog_name="gpucheck")
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    signals.hold()  # the command is over: a signal while Python exits changes nothing
    return code
