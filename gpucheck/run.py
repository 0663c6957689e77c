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
from gpucheck.config import Settings
from gpucheck.inventory.snapshot import KINDS, Snapshot, take
from gpucheck.model import CheckResult, Status

RESULT_KEY = "gpucheck.result"
CAUSE = "cause"  # evidence key on ERROR findings: the ClusterError class name
PUBLISH_BUDGET_S = 30.0  # publishing gets its own deadline: the run's may be spent by then


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

    # -- evaluation (workers) -----------------------------------------------------------------
    def expected(self) -> list[str]:
        """Check ids this run must resolve: the catalog filtered by profile, select and skip."""
        s = self.settings
        ids = [c.id for c in catalog.checks().values() if c.runs_in(s.profile)]
        if s.select:
            ids = [i for i in ids if i in s.select]
        return [i for i in ids if i not in s.skip]

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

        err = self.snapshot().error_for(("nodes",))
        if err is not None:
            return _with_cause(CheckResult.error(check_id, str(err)), err)
        try:
            result = access.evaluate(check_id, self)
        except ClusterError as exc:
            return _with_cause(CheckResult.error(check_id, str(exc)), exc)
        return result

    def nodes_by_name(self) -> dict[str, Any]:
        return {n.metadata.name: n for n in self.snapshot().nodes}

    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace(self.cluster(), self.run_id, self.settings.namespace)
        return self._workspace

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
            ws = self._workspace or Workspace(self.cluster(), self.run_id, self.settings.namespace)
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
        for check_id in self.expected():
            if check_id not in self.results:
                why = "the run was interrupted before this check ran" if interrupted else \
                    "this check did not report a result (its test crashed or its worker was lost)"
                self.add(CheckResult.error(check_id, why))
        s = self.settings
        cluster_info: dict[str, Any] = {"source": s.kubeconfig or "default kubeconfig"}
        if self._cluster is not None:
            cluster_info = {"server": self._cluster.server, "source": self._cluster.source,
                            "api_requests": self._cluster.requests}
        rep = report.build(self.results.values(), s.fail_on, cluster=cluster_info,
                           settings={"profile": s.profile, "select": list(s.select), "skip": list(s.skip),
                                     "config_file": s.config_file})
        return rep, grading.exit_code(rep.verdict, unreachable=self.unreachable())

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
                cluster.deadline = time.monotonic() + PUBLISH_BUDGET_S  # the run's own may be spent
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
