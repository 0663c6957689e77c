"""The sweep's pure parts without a cluster: the bundled DAG, the plan, the metrics, the
grading and the Airflow credentials."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from gpucheck.cluster.view import View
from gpucheck.config import resolve
from gpucheck.model import Status
from gpucheck.sweep import check, metrics, plan
from gpucheck.sweep.airflow_api import AirflowApi, AirflowApiError, credentials
from gpucheck.sweep.metrics import PodTimeline, StageMetrics
from gpucheck.sweep.runner import StageResult, SweepResult

DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / "gpu_sweep.py"
needs_airflow = pytest.mark.skipif(importlib.util.find_spec("airflow") is None,
                                   reason="the airflow extra is not installed")


# --- the bundled DAG ---------------------------------------------------------------------------

@needs_airflow
def test_the_dag_imports_without_a_cluster_and_without_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags["gpucheck_gpu_sweep"]
    assert {t.task_id for t in dag.tasks} == {"make_experiments", "train"}
    train = dag.get_task("train")
    assert train.max_active_tis_per_dag == 16 and train.retries == 2
    assert train.partial_kwargs["on_finish_action"] == "delete_pod"


@needs_airflow
def test_the_dag_makes_one_gpu_pod_per_experiment_from_its_params():
    spec = importlib.util.spec_from_file_location("gpu_sweep_under_test", DAG_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    params = {k: v.value for k, v in mod.dag.params.items()}
    params.update(experiments=5, gpus_per_pod=2, run_label="r1", stage="s1", node_selector={"pool": "h100"})
    kwargs = mod.dag.get_task("make_experiments").python_callable(params=params)
    assert len(kwargs) == 5 and len({k["name"] for k in kwargs}) == 5
    first = kwargs[0]
    assert first["container_resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert first["labels"]["gpucheck.dev/run"] == "r1" and first["labels"]["gpucheck.dev/sweep-stage"] == "s1"
    assert first["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert first["node_selector"] == {"pool": "h100"}


# --- the plan -----------------------------------------------------------------------------------

def gpu_node(name, product, gpus, taints=(), ready=True, mig=None) -> View:
    labels = {"nvidia.com/gpu.product": product, "kubernetes.io/hostname": name}
    if mig:
        labels["nvidia.com/mig.strategy"] = mig
    cap = {"nvidia.com/gpu": str(gpus)}
    return View({"metadata": {"name": name, "labels": labels},
                 "spec": {"taints": [dict(t) for t in taints]},
                 "status": {"capacity": cap, "allocatable": cap,
                            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def sweep_settings(tmp_path, text: str = ""):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sweep:\n" + "".join(f"  {line}\n" for line in text.splitlines()) if text else "{}\n")
    return resolve(cli={"config_file": str(cfg)}, env={}).sweep


def test_the_sweep_goes_to_the_pool_with_the_most_gpus_and_tolerates_its_taints(tmp_path):
    nodes = [gpu_node("h0", "H100", 8, [TAINT]), gpu_node("h1", "H100", 8, [TAINT]), gpu_node("l0", "L4", 1),
             gpu_node("sick", "B200", 64, ready=False)]
    p = plan.make(nodes, sweep_settings(tmp_path))
    assert (p.pool, p.gpu_slots, p.node_selector) == ("H100", 16, {"nvidia.com/gpu.product": "H100"})
    assert p.tolerations == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present",
                              "effect": "NoSchedule"}]
    assert p.untolerated == () and p.stages == (1, 4, 16, 50)
    assert p.cap() == 16 and p.ideal_makespan(50) == 4 * 10.0


def test_a_named_pool_with_empty_tolerations_knows_what_it_misses(tmp_path):
    nodes = [gpu_node("h0", "H100", 8, [TAINT])]
    p = plan.make(nodes, sweep_settings(tmp_path, "pool: H100\ntolerations: []\nexperiments: 6\nramp: [2, 10]"))
    assert p.untolerated == ("nvidia.com/gpu=present:NoSchedule",) and p.stages == (2, 6)
    with pytest.raises(plan.PlanError, match="sweep.pool 'A100' is not a usable GPU pool; pools: H100"):
        plan.make(nodes, sweep_settings(tmp_path, "pool: A100"))


def test_no_gpu_pool_is_a_plan_error(tmp_path):
    with pytest.raises(plan.PlanError, match="no Ready, schedulable GPU node"):
        plan.make([gpu_node("m", "A100", 0, mig="mixed")], sweep_settings(tmp_path))


# --- metrics --------------------------------------------------------------------------------------

@pytest.mark.parametrize("message,reason", [
    ("0/7 nodes are available: 2 Insufficient nvidia.com/gpu, 5 node(s) didn't match Pod's node affinity/selector.",
     "insufficient GPUs"),
    ("0/7 nodes are available: 7 node(s) had untolerated taint(s). preemption: 0/7 nodes are available",
     "untolerated taint"),
    ("0/3 nodes are available: 3 node(s) had untolerated taint {nvidia.com/gpu: present}.",
     "untolerated taint {nvidia.com/gpu: present}"),
    ('pods "x" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=1', "quota"),
])
def test_pending_messages_are_classified(message, reason):
    assert metrics.classify(message) == reason


def test_latency_percentiles_and_peak_concurrency():
    ts = [PodTimeline(f"p{i}", created=0.0, scheduled=float(i), running=float(i), finished=float(i) + 10)
          for i in range(10)]
    m = metrics.reduce(10, ts)
    assert (m.latency_p50, m.latency_p95, m.latency_max) == (4.0, 9.0, 9.0)
    assert m.peak == 10 and m.makespan == 19.0 and m.never_scheduled == 0
    ts = [PodTimeline("a", created=0, scheduled=0, running=0, finished=5),
          PodTimeline("b", created=0, scheduled=5, running=5, finished=10)]
    assert metrics.peak_concurrency(ts) == 1  # one ends as the next starts


# --- grading --------------------------------------------------------------------------------------

def stage(n=4, ok=True, lat=(0.1, 0.2, 0.3), reasons=None, makespan=12.0, left=0, never=0) -> StageResult:
    m = StageMetrics(n, n, n if ok else 0, *lat, peak=min(n, 4), makespan=makespan,
                     pending_reasons=reasons or {}, never_scheduled=never)
    return StageResult(n, "success" if ok else "failed", m, [], {"success": n} if ok else {"failed": n},
                       retries=0, left_pods=left, run_id=f"run-{n}")


def result(*stages, untolerated=()) -> SweepResult:
    p = plan.SweepPlan("H100", stages[-1].experiments, 1, {}, [], gpu_slots=4, max_active=16, duration_s=10,
                       stages=tuple(s.experiments for s in stages), untolerated=untolerated)
    return SweepResult("local", p, list(stages), airflow="local Airflow 3.3.2")


def test_a_completed_sweep_passes_with_its_numbers(tmp_path):
    r = result(stage(1), stage(4))
    one, two = check.completes(r), check.promptly(r, sweep_settings(tmp_path))
    assert one.status == Status.PASS and "ramp 1 -> 4" in one.summary and "0 pods left" in one.summary
    assert two.status == Status.PASS and "p95 0.2s" in two.summary and "cap 4" in two.summary


def test_a_failed_stage_fails_naming_the_missed_taint():
    r = result(stage(1, ok=False, reasons={"untolerated taint": 1}, never=1),
               untolerated=("nvidia.com/gpu=present:NoSchedule",))
    one = check.completes(r)
    assert one.status == Status.FAIL
    assert "untolerated taint nvidia.com/gpu=present:NoSchedule (1 pod)" in one.summary
    assert check.promptly(r, resolve(env={}).sweep).status == Status.SKIP


def test_leftover_pods_fail_the_sweep_even_when_every_task_succeeded():
    assert check.completes(result(stage(4, left=2))).status == Status.FAIL


def test_queueing_is_graded_by_the_thresholds(tmp_path):
    r = result(stage(8, lat=(5.0, 40.0, 41.0), reasons={"insufficient GPUs": 4}))
    graded = check.promptly(r, sweep_settings(tmp_path))
    assert graded.status == Status.WARN and "queued: insufficient GPUs (4 pods)" in graded.summary
    strict = sweep_settings(tmp_path, "schedulingP95FailSeconds: 35")
    assert check.promptly(r, strict).status == Status.FAIL
    slow = result(stage(8, makespan=100.0))
    assert check.promptly(slow, sweep_settings(tmp_path)).status == Status.WARN  # 100 s vs 2 waves x 10 s


def test_airflow_missing_skips_and_an_airflow_error_is_an_error():
    assert check.completes(SweepResult("local", skipped="apache-airflow is not installed")).status == Status.SKIP
    err = check.completes(SweepResult("remote", error="POST /auth/token: 401 (credentials refused?)"))
    assert err.status == Status.ERROR and "401" in err.summary


# --- credentials ------------------------------------------------------------------------------------

def test_credentials_come_from_the_environment_or_a_file_and_never_show(tmp_path):
    env = {"GPUCHECK_AIRFLOW_URL": "http://af:8080/", "GPUCHECK_AIRFLOW_USERNAME": "ci",
           "GPUCHECK_AIRFLOW_PASSWORD": "canary-s3cret"}
    c = credentials(None, None, env)
    assert c.url == "http://af:8080" and "canary-s3cret" not in repr(c) + repr(AirflowApi(c))
    f = tmp_path / "airflow.yaml"
    f.write_text("url: http://file:8080\ntoken: canary-t0ken\n")
    assert credentials(None, str(f), {}).token == "canary-t0ken"
    with pytest.raises(AirflowApiError, match="no Airflow credentials"):
        credentials("http://x", None, {})
    with pytest.raises(AirflowApiError, match="no Airflow URL"):
        credentials(None, None, {"GPUCHECK_AIRFLOW_TOKEN": "t"})
    assert math.isnan(metrics.percentile([], 50))
