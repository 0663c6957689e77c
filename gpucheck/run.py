"""One gpucheck run's state inside a pytest process: settings, the cluster, results.

The plugin creates one per process (controller and each xdist worker). Workers evaluate
checks and ship results in test reports; the controller (or a single process) collects them
and writes the report. Nothing here touches pytest's API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gpucheck import catalog, grading, inventory, report
from gpucheck.cluster.client import Cluster, connect
from gpucheck.cluster.errors import ClusterError, ConfigError, Unreachable
from gpucheck.cluster.workspace import Workspace, new_run_id
from gpucheck.config import OPTIONS, Settings
from gpucheck.inventory.snapshot import KINDS, Snapshot, take
from gpucheck.model import CheckResult, Status

RESULT_KEY = "gpucheck.result"
CAUSE = "cause"  # evidence key on ERROR findings: the ClusterError class name
# Cleanup and publishing each get this long of their own: the run's deadline may be spent.
WRAP_UP_BUDGET_S = 30.0  # within workspace.CLEANUP_GRACE_S, so a janitor never races a cleanup


@dataclass
class RunState:
    settings: Settings
    run_id: str = field(default_factory=new_run_id)
    started: float = field(default_factory=time.monotonic)
    results: dict[str, CheckResult] = field(default_factory=dict)
    _cluster: Cluster | None = None
    _snapshot: Snapshot | None = None
    _connect_error: ClusterError | None = None
    _workspace: Workspace | None = None
    _probes: dict[str, tuple[list[Any], list[dict[str, Any]]]] = field(default_factory=dict)
    baseline: Any = None  # gpucheck.baseline.store.Baseline, loaded by load_baseline()

    # -- evaluation (workers) -----------------------------------------------------------------
    def expected(self) -> list[str]:
        """Check ids this run must resolve: the catalog filtered by profile, select and skip.
        A check that needs an input (the gate needs a baseline) runs exactly when it is given,
        whatever the selection: a gate asked for is never dropped by --select."""
        s = self.settings
        inputs = {"baseline"} if s.baseline else set()
        checks = [c for c in catalog.checks().values() if c.runs_in(s.profile, inputs)]
        if s.select:
            checks = [c for c in checks if c.id in s.select or c.needs is not None]
        return [c.id for c in checks if c.id not in s.skip]

    def load_baseline(self) -> Any:
        """The baseline this run gates against (None without one); BaselineError when the file
        is unusable."""
        from gpucheck.baseline import store

        if self.baseline is None and self.settings.baseline:
            source = self.settings.sources.get("baseline", OPTIONS["baseline"][0])
            self.baseline = store.load(self.settings.baseline, source)
        return self.baseline

    def cluster(self) -> Cluster:
        if self._cluster is None and self._connect_error is None:
            try:
                self._cluster = connect(self.settings.kubeconfig, self.settings.context,
                                        timeout=min(10.0, self.settings.timeout))
                self._cluster.deadline = self.started + self.settings.timeout
            except ClusterError as exc:
                self._connect_error = exc
        if self._connect_error is not None:
            raise self._connect_error
        assert self._cluster is not None
        return self._cluster

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            try:
                self._snapshot = take(self.cluster())
            except ClusterError as exc:
                self._snapshot = Snapshot(errors={k: exc for k in KINDS})
        return self._snapshot

    def evaluate_inventory(self, check_id: str) -> CheckResult:
        result = inventory.evaluate(check_id, self.snapshot(), self.settings)
        if result.status == Status.ERROR:
            err = self.snapshot().error_for(inventory.ANALYZERS[check_id][1])
            result = _with_cause(result, err)
        return result

    def evaluate(self, check_id: str) -> CheckResult:
        """Any check but the sweep's, by where it is implemented."""
        from gpucheck import access

        if check_id in inventory.ANALYZERS:
            return self.evaluate_inventory(check_id)
        if check_id in access.CHECKS:
            return self.evaluate_access(check_id)
        return self.evaluate_probe(check_id)

    def evaluate_access(self, check_id: str) -> CheckResult:
        from gpucheck import access

        snap = self.snapshot()
        # An unusable kubeconfig or an unreachable server fails every check at once; otherwise
        # only what a check reads counts.
        err = self._connect_error or (next(iter(snap.errors.values())) if snap.unreachable
                                      else snap.error_for(access.KINDS[check_id]))
        if err is not None:
            return _with_cause(CheckResult.error(check_id, str(err)), err)
        try:
            return access.CHECKS[check_id](self)
        except ClusterError as exc:
            return _with_cause(CheckResult.error(check_id, str(exc)), exc)

    def nodes_by_name(self) -> dict[str, Any]:
        return {n.metadata.name: n for n in self.snapshot().nodes}

    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = self._new_workspace()
        return self._workspace

    def _new_workspace(self) -> Workspace:
        s = self.settings
        return Workspace(self.cluster(), self.run_id, s.namespace,
                         training_namespace=s.training.namespace if s.profile != "quick" else None,
                         sweep_namespace=s.sweep.namespace if s.profile == "full" else None)

    def janitor(self) -> str | None:
        """Remove what dead runs left (by label, once expired); a line to show when it did
        something or could not look. Runs that create nothing (quick) need no janitor."""
        from gpucheck.cluster import janitor

        if self.settings.profile == "quick":
            return None
        try:
            ws = self._new_workspace()
            swept = janitor.run(self.cluster(), current_run=self.run_id,
                                namespaces=(ws.namespace, *ws.other_namespaces),
                                claim_namespaces=(ws.training_namespace,) if ws.training_namespace else (),
                                run_namespaces=self.settings.namespace is None)
        except ClusterError:
            return None  # the checks say why the cluster cannot be used
        return swept.line() if swept.removed or swept.skipped else None

    def probe(self, kind: str, with_bodies: bool = False) -> Any:
        """Run the probe pods of `kind` once per process and keep their outcomes."""
        from gpucheck import probes
        from gpucheck.probes.runner import run_many

        if kind not in self._probes:
            build, stop, derive = probes.KINDS[kind]
            ws = self.workspace()
            jobs = build(self.snapshot().nodes, self.settings, ws.labels)
            runs = run_many(self.cluster(), ws, self.settings, jobs, stop_when_unschedulable=stop,
                            derive=derive) if jobs else []
            self._probes[kind] = (runs, [body for _, _, body in jobs])
        runs, bodies = self._probes[kind]
        return (runs, bodies) if with_bodies else runs

    def evaluate_probe(self, check_id: str) -> CheckResult:
        from gpucheck import probes

        result = probes.evaluate(check_id, self)
        if result.status == Status.ERROR:
            result = _with_cause(result, self.snapshot().error_for(("nodes",)) or self._connect_error)
        return result

    def evaluate_sweep(self, check_ids: list[str]) -> list[CheckResult]:
        """Run the mapped sweep once and grade the asked checks from it."""
        from gpucheck.sweep import check, runner

        snap = self.snapshot()
        err = snap.error_for(("nodes",))
        if err is None:
            try:
                ws = self.workspace()
                namespace = self.settings.sweep.namespace or ws.ensure()
                result = runner.run(self.cluster(), namespace, snap.nodes, self.settings, self.run_id,
                                    self.settings.kubeconfig or _default_kubeconfig(), say=_progress)
            except ClusterError as exc:
                err = exc
        if err is not None:
            return [_with_cause(CheckResult.error(cid, str(err)), err) for cid in check_ids]
        graders = {"GPU-SWEEP-001": lambda: check.completes(result),
                   "GPU-SWEEP-002": lambda: check.promptly(result, self.settings.sweep)}
        return [graders[cid]() for cid in check_ids]

    def cleanup(self) -> str | None:
        """Remove what this run created in the cluster; returns a problem to report, or None."""
        if self.settings.profile == "quick" and self._workspace is None:
            return None
        try:
            cluster = self.cluster()
            # Cleanup gets a budget of its own: a run stopped by its deadline must still clean up.
            cluster.deadline = time.monotonic() + WRAP_UP_BUDGET_S
            ws = self._workspace or self._new_workspace()
            ws.remove()
        except ClusterError as exc:
            return f"could not remove the run's workspace {self.run_id}: {exc}"
        return None

    # -- collection (controller) ---------------------------------------------------------------
    def add(self, result: CheckResult) -> None:
        old = self.results.get(result.id)
        if old is None or result.status.rank >= old.status.rank:
            self.results[result.id] = result

    def finish(self, interrupted: bool = False) -> tuple[report.Report, int]:
        from gpucheck.baseline import gate

        expected = self.expected()
        for check_id in expected:
            if check_id not in self.results and check_id != gate.CHECK_ID:
                why = "the run was interrupted before this check ran" if interrupted else \
                    "this check did not report a result (its test crashed or its worker was lost)"
                self.add(CheckResult.error(check_id, why))
        if gate.CHECK_ID in expected:
            # Last, on the controller: the gate compares every other result.
            self.add(self.evaluate_gate(interrupted))
        s = self.settings
        cluster_info: dict[str, Any] = {"source": s.kubeconfig or "default kubeconfig"}
        if self._cluster is not None:
            cluster_info = {"server": self._cluster.server, "source": self._cluster.source,
                            "api_requests": self._cluster.requests}
        settings: dict[str, Any] = {"profile": s.profile, "select": list(s.select), "skip": list(s.skip),
                                    "config_file": s.config_file}
        if s.baseline:
            settings.update(baseline=s.baseline, allow=list(s.allow))
            if self.baseline is not None:
                settings["baseline_saved"] = self.baseline.created_at
        rep = report.build(self.results.values(), s.fail_on, cluster=cluster_info, settings=settings)
        return rep, grading.exit_code(rep.verdict, unreachable=self.unreachable())

    def evaluate_gate(self, interrupted: bool = False) -> CheckResult:
        """GPU-GATE-001 from the baseline, this process's snapshot (taken now on an xdist
        controller, which has none) and every other result."""
        from gpucheck.baseline import gate
        from gpucheck.baseline.store import BaselineError

        if interrupted:
            return CheckResult.error(gate.CHECK_ID, "the run was interrupted; the gate compares a whole run")
        try:
            baseline = self.load_baseline()
        except BaselineError as exc:
            return CheckResult.error(gate.CHECK_ID, str(exc))
        snap = self.snapshot()
        err = snap.error_for(gate.READS)
        if err is not None:
            return _with_cause(CheckResult.error(gate.CHECK_ID, f"cannot read the cluster's GPU fingerprint: {err}"),
                               err)
        server = self._cluster.server if self._cluster is not None else None
        return gate.evaluate(baseline, snap, self.settings, list(self.results.values()), server)

    def save_baseline(self, rep: report.Report) -> str | None:
        """Write the baseline file of this run (settings.save_baseline); returns a problem that
        kept it from being written, or None. A NOT_READY run is saved too: a baseline records
        the state the cluster is in. A run whose GPU fingerprint could not be read is not."""
        from gpucheck.baseline import fingerprint, gate, store

        path = self.settings.save_baseline
        assert path
        snap = self.snapshot()
        err = snap.error_for(fingerprint.READS)
        if err is not None:
            return f"baseline {path} not written: cannot read the cluster's GPU fingerprint: {err}"
        results = [r for r in self.results.values() if r.id != gate.CHECK_ID]
        s = self.settings
        baseline = store.build(fingerprint.take(snap, s), results, profile=s.profile, verdict=rep.verdict,
                               server=self._cluster.server if self._cluster is not None else None,
                               select=s.select, skip=s.skip)
        try:
            store.save(baseline, path)
        except OSError as exc:
            return f"baseline {path} not written: {exc.strerror or exc}"
        return None

    def publish(self, rep: report.Report) -> tuple[list[str], list[str]]:
        """Send the written report where the settings say (summary ConfigMap, Pushgateway).
        Returns (what was done, problems); a problem never changes the verdict."""
        s = self.settings
        done: list[str] = []
        problems: list[str] = []
        if s.publish_configmap:
            from gpucheck.report import publish

            try:
                cluster = self.cluster()
                cluster.deadline = time.monotonic() + WRAP_UP_BUDGET_S
                name, deleted = publish.publish(cluster, s.publish_configmap, rep, self.run_id, s.keep_reports)
                done.append(f"summary published as ConfigMap {s.publish_configmap}/{name}"
                            + (f" ({len(deleted)} older removed)" if deleted else ""))
            except ClusterError as exc:
                problems.append(f"could not publish the summary ConfigMap in {s.publish_configmap}: {exc}")
        if s.pushgateway:
            from gpucheck.report import pushgateway

            name = s.cluster_name or self._cluster_host()
            try:
                pushgateway.push(s.pushgateway, rep, name)
                done.append(f"metrics pushed to {s.pushgateway} (job=gpucheck, cluster={name})")
            except pushgateway.PushError as exc:
                problems.append(str(exc))
        return done, problems

    def _cluster_host(self) -> str:
        from urllib.parse import urlparse

        server = self._cluster.server if self._cluster is not None else ""
        return urlparse(server).hostname or "unknown"

    def unreachable(self) -> bool:
        """True when nothing could be evaluated because the cluster could not be reached."""
        evaluated = [r for r in self.results.values() if r.status != Status.SKIP]
        return bool(evaluated) and all(
            r.status == Status.ERROR and any(f.evidence.get(CAUSE) in ("Unreachable", "ConfigError")
                                             for f in r.findings) for r in evaluated)


def _with_cause(result: CheckResult, err: ClusterError | None) -> CheckResult:
    if err is None:
        return result
    cause = "Unreachable" if isinstance(err, Unreachable) else "ConfigError" if isinstance(err, ConfigError) \
        else type(err).__name__
    findings = tuple(type(f)(f.status, f.message, f.object or "Cluster", {**f.evidence, CAUSE: cause})
                     for f in result.findings)
    return CheckResult(result.id, result.status, findings, result.summary, result.duration_s)


def _default_kubeconfig() -> str | None:
    import os

    path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
    return path if os.path.isfile(path) else None


def _progress(line: str) -> None:
    import sys

    print(f"gpucheck: {line}", file=sys.stderr, flush=True)
