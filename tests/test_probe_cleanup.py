"""No probe pod outlives a run: not after a normal run, not after Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from kubernetes import client, watch

from gpucheck import exitcodes
from gpucheck.cluster.wait import wait_deleted

pytestmark = pytest.mark.sim

MANAGED = "app.kubernetes.io/managed-by=gpucheck"


def _leftovers(core) -> tuple[list[str], list[str]]:
    pods = [f"{p.metadata.namespace}/{p.metadata.name}" for p in
            core.list_pod_for_all_namespaces(label_selector=MANAGED).items if not p.metadata.deletion_timestamp]
    namespaces = [n.metadata.name for n in core.list_namespace(label_selector=MANAGED).items
                  if n.status.phase == "Active"]
    return pods, namespaces


def _gone(core) -> None:
    for ns in core.list_namespace(label_selector=MANAGED).items:
        wait_deleted(core.list_namespace, name=ns.metadata.name, timeout=60, what=f"namespace {ns.metadata.name}")


def test_a_finished_run_leaves_nothing(api, sim, tmp_path):
    core = client.CoreV1Api(api)
    res = subprocess.run([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={sim.kubeconfig}",
                          f"--report={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert res.returncode == exitcodes.READY, res.stdout[-3000:]
    assert _leftovers(core) == ([], [])
    _gone(core)


def test_ctrl_c_during_probes_leaves_nothing(api, sim, tmp_path):
    core = client.CoreV1Api(api)
    rv = core.list_pod_for_all_namespaces(label_selector=MANAGED).metadata.resource_version
    proc = subprocess.Popen([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={sim.kubeconfig}",
                             f"--report={tmp_path}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = None
        for ev in watch.Watch().stream(core.list_pod_for_all_namespaces, label_selector=MANAGED,
                                       resource_version=rv, timeout_seconds=120):
            if ev["type"] == "ADDED":
                seen = ev["object"].metadata.name
                break
        assert seen, "no probe pod appeared"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == exitcodes.INTERRUPTED, out[-3000:]
    assert "Traceback" not in out
    assert _leftovers(core) == ([], [])
    _gone(core)
    report = (tmp_path / "report.json").read_text()
    assert '"NOT_READY"' in report
