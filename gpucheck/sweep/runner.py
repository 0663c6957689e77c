"""Run the sweep: pre-flight the DAG, then each ramp stage as one DAG run, measured by a pod
watch; optionally preempt some running pods; always leave the cluster as it was."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ClusterError
from gpucheck.sweep import airflow_local, plan as planning, postgres
from gpucheck.sweep.airflow_api import AirflowApi, AirflowApiError, Credentials, credentials
from gpucheck.sweep.metrics import PodTimeline, StageMetrics, reduce
from gpucheck.sweep.podwatch import PodWatch

STAGE_LABEL = "gpucheck.dev/sweep-stage"
TERMINAL = ("success", "failed")


@dataclass
class StageResult:
    experiments: int
    state: str  # success, failed, timeout
    metrics: StageMetrics
    timelines: list[PodTimeline]
    task_states: dict[str, int]
    retries: int
    left_pods: int
    preempted: list[str] = field(default_factory=list)
    run_id: str | None = None
    run_seconds: float = 0.0  # trigger to the run's end, Airflow's own overhead included

    @property
    def ok(self) -> bool:
        return self.state == "success" and self.left_pods == 0


@dataclass
class SweepResult:
    mode: str
    plan: planning.SweepPlan | None = None
    stages: list[StageResult] = field(default_factory=list)
    airflow: str = ""  # where it ran: "local Airflow 3.3.2" or the remote base URL
    skipped: str | None = None  # why the sweep could not be attempted (Airflow not installed)
    error: str | None = None  # why it could not finish (Airflow would not start, an API error)
    paused: bool | None = None


def run(cluster: Cluster, namespace: str, nodes: list[Any], settings: Any, run_id: str,
        kubeconfig: str | None, say: Callable[[str], None] = lambda s: None) -> SweepResult:
    sweep = settings.sweep
    result = SweepResult(mode=sweep.airflow.mode)
    try:
        result.plan = planning.make(nodes, sweep)
    except planning.PlanError as exc:
        result.error = str(exc)
        return result
    local: airflow_local.LocalAirflow | None = None
    workdir: Path | None = None
    api: AirflowApi | None = None
    try:
        if sweep.airflow.mode == "local":
            why = airflow_local.available()
            if why:
                result.skipped = why
                return result
            workdir = Path(tempfile.mkdtemp(prefix=f"gpucheck-airflow-{run_id}-"))
            local = airflow_local.start(workdir, kubeconfig or "", max_active=sweep.maxActive, say=say)
            api = AirflowApi(Credentials(local.url, local.username, local.password))
            result.airflow = f"local Airflow {airflow_local.version()}"
        else:
            api = AirflowApi(credentials(sweep.airflow.url, sweep.airflow.credentialsFile))
            result.airflow = api.url
        dag_id = sweep.airflow.dagId
        # gpucheck's own Airflow has just been handed the DAG: wait for its dag-processor. A
        # team's Airflow has the DAG deployed or not; asking once is the pre-flight.
        pre = api.wait_for_dag(dag_id, timeout=90) if local is not None else api.preflight(dag_id)
        mine = [e for e in pre.import_errors if "gpu_sweep" in e]
        if not pre.dag_present or mine:
            result.error = (f"DAG {dag_id} is not in the Airflow at {result.airflow}" if not pre.dag_present else
                            f"DAG {dag_id} has import errors") + ("; import errors: " + "; ".join(pre.import_errors)
                                                                 if pre.import_errors else "")
            return result
        result.paused = pre.paused
        if pre.paused:
            api.unpause(dag_id)
        deadline = time.monotonic() + sweep.timeout
        full = result.plan.experiments
        for n in result.plan.stages:
            say(f"sweep stage {len(result.stages) + 1}/{len(result.plan.stages)}: {n} experiment(s) on pool "
                f"{result.plan.pool}")
            stage = run_stage(api, cluster, namespace, result.plan, dag_id, n, run_id, deadline,
                              preempt=sweep.preemptPods if n == full else 0)
            result.stages.append(stage)
            say(f"sweep stage {n}: {stage.state}, {stage.metrics.succeeded}/{n} pods succeeded, "
                f"p95 scheduling {stage.metrics.latency_p95:.1f}s, peak {stage.metrics.peak} concurrent")
            if not stage.ok:
                break
        if pre.paused and sweep.airflow.mode == "remote":
            api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
    except (airflow_local.AirflowError, postgres.PostgresError, AirflowApiError, ClusterError, OSError) as exc:
        result.error = str(exc)
    finally:
        if local is not None:
            local.stop()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def run_stage(api: AirflowApi, cluster: Cluster, namespace: str, plan: planning.SweepPlan, dag_id: str,
              experiments: int, run_label: str, deadline: float, preempt: int = 0) -> StageResult:
    stage = f"{experiments}-{int(time.time() * 1000) % 10**8}"
    selector = f"gpucheck.dev/run={run_label},{STAGE_LABEL}={stage}"
    preempted: list[str] = []
    lock = threading.Lock()

    def drill(t: PodTimeline, pod: Any) -> None:
        """Delete up to `preempt` pods once they run, as a node drain or preemption would."""
        if t.running is None or t.finished is not None or t.deleted is not None:
            return
        with lock:
            if len(preempted) >= preempt or t.name in preempted:
                return
            preempted.append(t.name)
        try:
            cluster.call(cluster.core.delete_namespaced_pod, t.name, namespace, grace_period_seconds=0,
                         verb="delete", resource="pods")
        except ClusterError:
            pass

    watcher = PodWatch(cluster, namespace, selector, on_change=drill if preempt else None).start()
    run_id = None
    state = "failed"
    run_seconds = 0.0
    try:
        conf = {"experiments": experiments, "gpus_per_pod": plan.gpus_per_pod, "namespace": namespace,
                "node_selector": plan.node_selector, "tolerations": plan.tolerations,
                "duration": f"{plan.duration_s:g}s", "run_label": run_label, "stage": stage,
                "schedule_timeout": int(plan.schedule_timeout), "startup_timeout": 120}
        run_id = api.trigger(dag_id, conf)
        triggered = time.monotonic()
        while True:
            state = api.run_state(dag_id, run_id)
            if state in TERMINAL:
                break
            if time.monotonic() > deadline:
                api.fail_run(dag_id, run_id)
                state = "timeout"
                break
            time.sleep(1)  # Airflow's API has no watch; one cheap GET a second
        run_seconds = time.monotonic() - triggered
        # KubernetesPodOperator deletes each pod as its task ends; give the last ones time.
        watcher.wait_until(lambda ts: all(t.deleted is not None for t in ts), timeout=30)
    finally:
        watcher.stop()
        timelines = watcher.snapshot()
        left = [t.name for t in timelines if t.deleted is None]
        for name in left:  # ours to remove, whatever happened; still counted as left behind
            try:
                cluster.call(cluster.core.delete_namespaced_pod, name, namespace, grace_period_seconds=0,
                             verb="delete", resource="pods")
            except ClusterError:
                pass
    tis = [t for t in (api.task_instances(dag_id, run_id) if run_id else []) if t.get("task_id") == "train"]
    return StageResult(
        experiments=experiments, state=state, metrics=reduce(experiments, timelines), timelines=timelines,
        task_states=dict(Counter(str(t.get("state")) for t in tis)),
        retries=sum(max(int(t.get("try_number") or 1) - 1, 0) for t in tis),
        left_pods=len(left), preempted=preempted, run_id=run_id, run_seconds=run_seconds)
