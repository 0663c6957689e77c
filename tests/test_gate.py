"""The pre-upgrade gate as a user runs it: `gpucheck baseline save`, then `gpucheck gate` after
a fault, against the session's simulated cluster; and unusable baseline files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from gpucheck import exitcodes, report
from gpucheck.sim import expectations_file, scenarios


def gpucheck(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gpucheck", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def against(sim, profile: str = "quick") -> list[str]:
    return ["--kubeconfig", str(sim.kubeconfig), "--config", expectations_file(), f"--profile={profile}"]


def load_report(d: Path) -> dict:
    data = json.loads((d / "report.json").read_text())
    jsonschema.validate(data, report.schema())
    return data


def gate_check(data: dict) -> dict:
    return next(c for c in data["checks"] if c["id"] == "GPU-GATE-001")


def changes_table(md: str) -> list[str]:
    section = md.split("### Changes since baseline", 1)[1].split("| | check |", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "| kind |" not in line]


@pytest.fixture(scope="module")
def healthy(sim, tmp_path_factory) -> Path:
    """A quick-profile baseline of the healthy simulated cluster."""
    d = tmp_path_factory.mktemp("baseline")
    res = gpucheck(d, "baseline", "save", "healthy.json", *against(sim), "--report", "saved")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "baseline: healthy.json written (verdict READY)" in res.stdout
    return d / "healthy.json"


def gate_with(sim, api, tmp_path: Path, baseline: Path, scenario: str, *extra: str
              ) -> tuple[subprocess.CompletedProcess[str], dict, str]:
    scenarios.apply(api, scenario)
    try:
        res = gpucheck(tmp_path, "gate", "--baseline", str(baseline), *against(sim), "--report", "gate", *extra)
    finally:
        scenarios.revert(api, scenario)
        scenarios.wait_device_plugin_settled(api)
    return res, load_report(tmp_path / "gate"), (tmp_path / "gate" / "report.md").read_text()


@pytest.mark.sim
def test_the_gate_passes_against_its_own_baseline(sim, healthy, tmp_path):
    saved = json.loads(healthy.read_text())
    assert saved["verdict"] == "READY" and saved["profile"] == "quick"
    assert saved["fingerprint"]["pools"]["NVIDIA-H100-80GB-HBM3"]["allocatable"] == {"nvidia.com/gpu": 16}
    res = gpucheck(tmp_path, "gate", "--baseline", str(healthy), *against(sim), "--report", "gate")
    assert res.returncode == exitcodes.READY, res.stdout + res.stderr
    data = load_report(tmp_path / "gate")
    assert data["verdict"] == "READY" and gate_check(data)["status"] == "PASS"
    assert gate_check(data)["summary"].startswith("no change since the baseline of ")
    assert "changes since baseline" not in res.stdout  # nothing to list
    shown = gpucheck(tmp_path, "baseline", "show", str(healthy))
    assert shown.returncode == 0
    assert "pool NVIDIA-H100-80GB-HBM3: 2 node(s), allocatable nvidia.com/gpu 16" in shown.stdout


@pytest.mark.sim
def test_gpus_withheld_fail_the_gate_naming_the_node(sim, api, healthy, tmp_path):
    res, data, md = gate_with(sim, api, tmp_path, healthy, "gpu-withheld")
    assert res.returncode == exitcodes.NOT_READY
    gate = gate_check(data)
    assert gate["status"] == "FAIL" and gate["severity"] == "critical"
    assert changes_table(md) == [
        "| ❌ regression | gpus | Node/gpu-h100-0: nvidia.com/gpu allocatable 8 → 7 |",
        "| ❌ regression | check | GPU-ALLOC-001: PASS → FAIL (1 GPU node(s) short of GPUs: gpu-h100-0) |"]
    first = gate["findings"][0]
    assert first["evidence"] == {"kind": "gpus", "before": {"capacity": 8, "allocatable": 8},
                                 "after": {"capacity": 8, "allocatable": 7}, "regression": True, "allowed": False}
    tail = res.stdout.split("changes since baseline", 1)[1]
    assert "REGRESSION  gpus   Node/gpu-h100-0: nvidia.com/gpu allocatable 8 -> 7" in tail
    assert "GPU-ALLOC-001: PASS -> FAIL" in tail and "gpucheck verdict: NOT_READY" in tail


@pytest.mark.sim
def test_a_taint_gone_fails_the_gate(sim, api, healthy, tmp_path):
    res, data, md = gate_with(sim, api, tmp_path, healthy, "gpu-node-untainted")
    assert res.returncode == exitcodes.NOT_READY
    assert changes_table(md) == [
        "| ❌ regression | taint | Node/gpu-l4-0: taint nvidia.com/gpu=present:NoSchedule gone |",
        "| ❌ regression | check | GPU-TAINT-001: PASS → FAIL (1 GPU node(s) untainted: gpu-l4-0) |"]


@pytest.mark.sim
def test_an_allowed_driver_change_is_listed_but_the_check_regression_still_fails(sim, api, healthy, tmp_path):
    res, data, md = gate_with(sim, api, tmp_path, healthy, "driver-mismatch", "--allow", "driver")
    assert res.returncode == exitcodes.NOT_READY
    rows = changes_table(md)
    assert rows[:2] == [
        "| ❌ regression | cuda | Node/gpu-h100-0: CUDA 12.7 → 12.4 |",
        "| ❌ regression | check | GPU-DRV-001: PASS → FAIL (1 node(s) off their pool's driver: gpu-h100-0) |"]
    assert rows[2] == "| ✅ allowed | driver | Node/gpu-h100-0: driver 565.57.01 → 550.54.15 (allowed: --allow " \
                      "driver) |"
    assert load_report(tmp_path / "gate")["settings"]["allow"] == ["driver"]


@pytest.mark.sim
def test_a_baseline_of_a_not_ready_cluster_is_saved_and_a_fix_passes_the_gate(sim, api, tmp_path):
    scenarios.apply(api, "gpu-withheld")
    try:
        res = gpucheck(tmp_path, "baseline", "save", "broken.json", *against(sim))
    finally:
        scenarios.revert(api, "gpu-withheld")
        scenarios.wait_device_plugin_settled(api)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "gpucheck verdict: NOT_READY" in res.stdout and "broken.json written (verdict NOT_READY)" in res.stdout
    assert json.loads((tmp_path / "broken.json").read_text())["checks"]["GPU-ALLOC-001"]["status"] == "FAIL"
    res = gpucheck(tmp_path, "gate", "--baseline", "broken.json", *against(sim), "--report", "gate")
    assert res.returncode == exitcodes.READY, res.stdout
    assert changes_table((tmp_path / "gate" / "report.md").read_text()) == [
        "| ℹ️ change | gpus | Node/gpu-h100-0: nvidia.com/gpu allocatable 7 → 8 |",
        "| ℹ️ change | check | GPU-ALLOC-001: FAIL → PASS (all GPUs allocatable on 5 nodes) |"]


@pytest.mark.sim
def test_a_standard_baseline_gates_standard_runs_and_names_checks_a_lighter_run_leaves_out(sim, tmp_path):
    res = gpucheck(tmp_path, "baseline", "save", "standard.json", *against(sim, "standard"))
    assert res.returncode == 0, res.stdout + res.stderr
    res = gpucheck(tmp_path, "gate", "--baseline", "standard.json", *against(sim, "standard"), "--report", "std")
    assert res.returncode == exitcodes.READY, res.stdout
    assert gate_check(load_report(tmp_path / "std"))["status"] == "PASS"
    res = gpucheck(tmp_path, "gate", "--baseline", "standard.json", *against(sim, "quick"), "--report", "quick")
    assert res.returncode == exitcodes.NOT_READY
    gate = gate_check(load_report(tmp_path / "quick"))
    missing = [f["message"] for f in gate["findings"] if f["status"] == "FAIL"]
    assert "GPU-SMI-001: PASS in the baseline, not run now (this run's profile is quick; the baseline's was " \
           "standard)" in missing
    assert all("not run now" in m for m in missing)


@pytest.mark.sim
def test_the_gate_is_decided_once_on_the_xdist_controller(sim, healthy, tmp_path):
    res = subprocess.run([sys.executable, "-m", "pytest", "--gpucheck", "-p", "no:cacheprovider", "-n", "2",
                          f"--gpucheck-kubeconfig={sim.kubeconfig}", f"--gpucheck-config={expectations_file()}",
                          "--gpucheck-profile=quick", f"--gpucheck-baseline={healthy}", "--gpucheck-report=x"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == exitcodes.READY, res.stdout + res.stderr
    data = load_report(tmp_path / "x")
    assert gate_check(data)["status"] == "PASS" and data["cluster"]["server"] == json.loads(
        healthy.read_text())["cluster"]["server"]


# --- unusable baseline files (no cluster needed: they stop the run before it starts) ---------

@pytest.fixture
def bad_files(tmp_path) -> dict[str, Path]:
    files = {"missing": tmp_path / "missing.json", "not-json": tmp_path / "notes.txt",
             "wrong-schema": tmp_path / "report.json", "not-utf8": tmp_path / "latin1.json"}
    files["not-json"].write_text("pools: [h100]\n")
    files["wrong-schema"].write_text(json.dumps({"schema_version": "1.0", "verdict": "READY", "checks": []}))
    files["not-utf8"].write_bytes('{"verdict": "PRÊT"}'.encode("latin-1"))
    return files


NEEDLES = {"missing": "does not exist", "not-json": "is not JSON", "wrong-schema": "is not a gpucheck baseline",
           "not-utf8": "is not UTF-8 text"}


@pytest.mark.parametrize("kind", sorted(NEEDLES))
def test_an_unusable_baseline_is_a_usage_error_naming_the_file(tmp_path, bad_files, kind):
    path = bad_files[kind]
    for args in (["gate", "--baseline", str(path), "--kubeconfig", str(tmp_path / "unused")],
                 ["baseline", "show", str(path)]):
        res = gpucheck(tmp_path, *args)
        assert res.returncode == exitcodes.USAGE, (args, res.stderr)
        assert f"baseline file {path} {NEEDLES[kind]}" in res.stderr
        assert "Traceback" not in res.stdout + res.stderr
    res = subprocess.run([sys.executable, "-m", "pytest", "--gpucheck", "-p", "no:cacheprovider",
                          f"--gpucheck-baseline={path}"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == exitcodes.USAGE
    assert f"--gpucheck-baseline: baseline file {path} {NEEDLES[kind]}" in res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert not (tmp_path / "gpucheck-report").exists()


def test_baseline_save_to_a_missing_directory_is_a_usage_error(tmp_path):
    res = gpucheck(tmp_path, "baseline", "save", str(tmp_path / "no" / "b.json"), "--kubeconfig", str(tmp_path / "k"))
    assert res.returncode == exitcodes.USAGE
    assert f"--gpucheck-save-baseline: directory {tmp_path / 'no'} does not exist" in res.stderr + res.stdout
    assert "Traceback" not in res.stdout + res.stderr


def test_no_baseline_is_written_of_a_cluster_that_cannot_be_read(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n")
    res = gpucheck(tmp_path, "baseline", "save", "b.json", "--kubeconfig", str(kubeconfig), "--profile", "quick",
                   "--timeout", "30")
    assert res.returncode == exitcodes.UNREACHABLE
    assert "baseline b.json not written: cannot read the cluster's GPU fingerprint: cannot reach the API server" \
           in res.stdout
    assert not (tmp_path / "b.json").exists() and "Traceback" not in res.stdout + res.stderr
