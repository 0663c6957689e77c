"""Faults that break the cluster itself: the API server restarted mid-run, a GPU node deleted
mid-run. They get a simulated cluster of their own, removed at the end, so the session's
shared cluster never sees them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from kubernetes import client, config

from gpucheck import exitcodes
from gpucheck.sim import cluster, expectations_file
from test_faults import _pod_on, _report, leftovers

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def faulty():
    name = f"pytest-faults-{os.getpid()}"
    info = cluster.up(name=name, owner_pid=os.getpid(), timeout=300)
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(info.kubeconfig), client_configuration=cfg)
    try:
        with client.ApiClient(cfg) as api:
            yield info, api
    finally:
        cluster.down(name)


def _start(info, tmp_path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={info.kubeconfig}",
                             f"--config={expectations_file()}", f"--report={tmp_path / 'report'}", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)


def test_a_run_rides_out_an_api_server_restart(faulty, tmp_path):
    """An upgrade or a crash restarts kube-apiserver for a few seconds: in-flight requests and
    watches drop. The run waits the outage out (Cluster.outage_budget_s) and still decides."""
    info, api = faulty
    core = client.CoreV1Api(api)
    proc = _start(info, tmp_path)
    try:
        _pod_on(core, sorted(n.metadata.name for n in core.list_node(
            label_selector="sim.gpucheck.io/pool=h100").items)[0])
        started = time.monotonic()
        cluster.restart(info.name, "kube-apiserver", down_for=3)
        outage = time.monotonic() - started
        out, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert outage >= 3
    assert proc.returncode == exitcodes.READY, out[-4000:]
    assert "Traceback" not in out
    assert _report(tmp_path)["verdict"] == "READY"
    assert leftovers(api) == []


def test_a_gpu_node_deleted_mid_run_fails_the_probe_on_it_and_leaves_nothing(faulty, tmp_path):
    info, api = faulty
    core = client.CoreV1Api(api)
    node = sorted(n.metadata.name for n in core.list_node(label_selector="sim.gpucheck.io/pool=l4").items)[0]
    # A slow image pull holds the probe in ContainerCreating on that node when it goes away.
    core.patch_node(node, {"metadata": {"annotations": {"sim.gpucheck.io/image-pull-seconds": "60"}}})
    cfg = tmp_path / "gpucheck.yaml"
    cfg.write_text(open(expectations_file()).read() + "probes: {startupTimeout: 15}\n")
    proc = subprocess.Popen([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={info.kubeconfig}",
                             f"--config={cfg}", "--select=GPU-SMI-001,GPU-INV-001",
                             f"--report={tmp_path / 'report'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        _pod_on(core, node)
        core.delete_node(node)
        out, _ = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == exitcodes.NOT_READY, out[-3000:]
    smi = next(c for c in _report(tmp_path)["checks"] if c["id"] == "GPU-SMI-001")
    assert smi["status"] == "FAIL" and node in smi["summary"], smi["summary"]
    assert leftovers(api) == []
