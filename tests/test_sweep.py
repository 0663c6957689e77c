"""The mapped-sweep load test end to end: the bundled DAG in a real Airflow (api-server,
scheduler, dag-processor, LocalExecutor on PostgreSQL) launching KubernetesPodOperator pods
into the simulated cluster, measured by a pod watch. Every test also proves that nothing is
left: no sweep pod, no Airflow or PostgreSQL process.

The full-profile test runs gpucheck's local Airflow; the others use "remote" mode against one
loopback Airflow this module starts, as a team's own Airflow would be used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpucheck.cluster.client import connect
from gpucheck.config import resolve
from gpucheck.model import Status
from gpucheck.run import RunState
from gpucheck.sweep import airflow_local

pytestmark = [pytest.mark.sim, pytest.mark.skipif(airflow_local.available() is not None,
                                                  reason=f"{airflow_local.available()}")]


def processes_mentioning(path: Path) -> list[str]:
    """Live processes whose command line or environment names `path` (Airflow daemons carry
    AIRFLOW_HOME in their environment, PostgreSQL its data directory on its command line)."""
    found = []
    needle = str(path).encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            blob = Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if needle in blob and state != "Z" and int(pid) != os.getpid():
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:80])
    return found


def sweep_pods(sim) -> list[str]:
    c = connect(str(sim.kubeconfig))
    pods = c.core.list_pod_for_all_namespaces(label_selector="gpucheck.dev/sweep-stage")
    return [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods.items]


@pytest.fixture(scope="module")
def team_airflow(sim, tmp_path_factory):
    """A loopback Airflow that stands in for a team's own, reached through REST API v2."""
    home = tmp_path_factory.mktemp("team-airflow")
    af = airflow_local.start(home, str(sim.kubeconfig), max_active=16)
    try:
        # A team's Airflow has the DAG deployed and parsed before anyone sweeps through it.
        from gpucheck.sweep.airflow_api import AirflowApi, Credentials

        assert AirflowApi(Credentials(af.url, af.username, af.password)).wait_for_dag(
            "gpucheck_gpu_sweep", timeout=120).dag_present
        yield af
    finally:
        af.stop()
        assert processes_mentioning(home) == []


def remote_run(sim, team_airflow, tmp_path, monkeypatch, sweep_yaml: str, password: str | None = None):
    monkeypatch.setenv("GPUCHECK_AIRFLOW_URL", team_airflow.url)
    monkeypatch.setenv("GPUCHECK_AIRFLOW_USERNAME", team_airflow.username)
    monkeypatch.setenv("GPUCHECK_AIRFLOW_PASSWORD", password or team_airflow.password)
    cfg = tmp_path / "gpucheck.yaml"
    cfg.write_text("sweep:\n  airflow: {mode: remote}\n" + "".join(f"  {line}\n" for line in sweep_yaml.splitlines()))
    state = RunState(resolve(cli={"kubeconfig": str(sim.kubeconfig), "config_file": str(cfg), "profile": "full"}))
    try:
        return {r.id: r for r in state.evaluate_sweep(["GPU-SWEEP-001", "GPU-SWEEP-002"])}
    finally:
        assert state.cleanup() is None
        assert sweep_pods(sim) == []


def test_full_profile_runs_a_50_experiment_sweep_through_a_local_airflow(sim, tmp_path):
    """`pytest --gpucheck --gpucheck-profile=full`: gpucheck starts its own Airflow, ramps
    4 -> 50, reports the numbers, and stops everything it started."""
    cfg = tmp_path / "gpucheck.yaml"
    cfg.write_text("sweep:\n  experiments: 50\n  ramp: [4]\n  duration: 5s\n  makespanRatioWarn: 10\n")
    report = tmp_path / "report"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "pytest", "--gpucheck", f"--gpucheck-kubeconfig={sim.kubeconfig}",
                          "--gpucheck-profile=full", f"--gpucheck-config={cfg}", f"--gpucheck-report={report}",
                          "--gpucheck-select=GPU-SWEEP-001,GPU-SWEEP-002,GPU-INV-001", "-p", "no:cacheprovider",
                          "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    data = json.loads((report / "report.json").read_text())
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["GPU-SWEEP-001"]["status"] == "PASS", checks["GPU-SWEEP-001"]["summary"] + out.stdout[-2000:]
    assert checks["GPU-SWEEP-002"]["status"] == "PASS", checks["GPU-SWEEP-002"]["summary"]
    assert out.returncode == 0
    stages = next(f["evidence"]["stages"] for f in checks["GPU-SWEEP-001"]["findings"] if f["object"] == "Sweep")
    assert [s["experiments"] for s in stages] == [4, 50]
    full = stages[-1]
    assert full["succeeded"] == 50 and full["left_pods"] == 0 and full["task_states"] == {"success": 50}
    assert 1 <= full["peak"] <= 16 and full["latency_p95"] is not None
    timeline = next(f["evidence"]["timeline"] for f in checks["GPU-SWEEP-002"]["findings"])
    assert len(timeline) == 50 and all(t["finished"] is not None for t in timeline)
    assert "<svg" in (report / "report.html").read_text()  # the timeline chart
    assert processes_mentioning(tmp_path) == [] and processes_mentioning(Path("gpucheck-pg-gpucheck-airflow-")) == []
    assert sweep_pods(sim) == []
    assert not list(tmp_path.glob("gpucheck-airflow-*"))


def test_too_few_gpus_show_as_queueing_graded_by_the_thresholds(sim, team_airflow, tmp_path, monkeypatch):
    results = remote_run(sim, team_airflow, tmp_path, monkeypatch,
                         "pool: NVIDIA-L4\nexperiments: 6\nramp: []\nduration: 3s\n"
                         "schedulingP95WarnSeconds: 1\nschedulingP95FailSeconds: 600\nmakespanRatioWarn: 20")
    assert results["GPU-SWEEP-001"].status == Status.PASS, results["GPU-SWEEP-001"].summary
    queued = results["GPU-SWEEP-002"]
    assert queued.status == Status.WARN, queued.summary
    assert "queued: insufficient GPUs" in queued.summary and "cap 2: 2 GPU slots in pool NVIDIA-L4" in queued.summary


def test_a_sweep_that_does_not_tolerate_the_gpu_taint_fails_naming_it(sim, team_airflow, tmp_path, monkeypatch):
    results = remote_run(sim, team_airflow, tmp_path, monkeypatch,
                         "experiments: 2\nramp: []\ntolerations: []\nscheduleTimeout: 5")
    failed = results["GPU-SWEEP-001"]
    assert failed.status == Status.FAIL
    assert "untolerated taint nvidia.com/gpu=present:NoSchedule" in failed.summary, failed.summary
    assert results["GPU-SWEEP-002"].status == Status.SKIP


def test_the_preemption_drill_completes_through_airflow_retries(sim, team_airflow, tmp_path, monkeypatch):
    results = remote_run(sim, team_airflow, tmp_path, monkeypatch,
                         "experiments: 6\nramp: []\nduration: 4s\npreemptPods: 2\nmakespanRatioWarn: 20")
    done = results["GPU-SWEEP-001"]
    assert done.status == Status.PASS, done.summary
    stage = next(f.evidence for f in done.findings if f.object.startswith("DagRun/"))
    assert len(stage["preempted"]) == 2 and stage["retries"] >= 2 and stage["left_pods"] == 0


def test_remote_preflight_errors_are_clear_and_keep_the_password_out(sim, team_airflow, tmp_path, monkeypatch):
    results = remote_run(sim, team_airflow, tmp_path, monkeypatch, "experiments: 1", password="canary-wr0ng-pass")
    err = results["GPU-SWEEP-001"]
    assert err.status == Status.ERROR and "POST /auth/token: 401" in err.summary
    assert "canary-wr0ng-pass" not in json.dumps(err.to_json())
    missing = remote_run(sim, team_airflow, tmp_path, monkeypatch, "experiments: 1\nairflow: {mode: remote, dagId: nope}")
    assert missing["GPU-SWEEP-001"].status == Status.ERROR
    assert f"DAG nope is not in the Airflow at {team_airflow.url}" in missing["GPU-SWEEP-001"].summary


def test_without_airflow_installed_the_sweep_is_skipped_with_the_reason(sim, tmp_path):
    """The rest of gpucheck works; the sweep says why it did not run."""
    code = (
        "import sys; sys.modules['airflow'] = None\n"
        "from gpucheck.config import resolve\nfrom gpucheck.run import RunState\n"
        f"s = RunState(resolve(cli={{'kubeconfig': {str(sim.kubeconfig)!r}, 'profile': 'full'}}, env={{}}))\n"
        "r = s.evaluate_sweep(['GPU-SWEEP-001'])[0]\nprint(r.status.value, r.summary)\n"
        "print(s.evaluate_inventory('GPU-INV-001').status.value)\ns.cleanup()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "SKIP apache-airflow is not installed (pip install 'gpucheck[airflow]')", "PASS"]
