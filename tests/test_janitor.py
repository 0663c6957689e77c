"""What dead runs leave is removed: by the next run's janitor once it expires, or by
`gpucheck clean` on demand. What live runs own is never touched."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time

import pytest
from kubernetes import client, watch

from gpucheck import exitcodes
from gpucheck.cluster import janitor
from gpucheck.cluster.client import connect
from gpucheck.cluster.view import View
from gpucheck.cluster.workspace import EXPIRES, MANAGED_BY, RUN_LABEL
from test_faults import RUN, leftovers

pytestmark = pytest.mark.sim


def _stamp(seconds_from_now: float) -> str:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds_from_now)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(name: str, run: str, expires_in: float | None) -> dict:
    meta = {"name": name, "labels": {**MANAGED_BY, RUN_LABEL: run}}
    if expires_in is not None:
        meta["annotations"] = {EXPIRES: _stamp(expires_in)}
    return meta


@pytest.fixture
def left_behind(api):
    """What a SIGKILLed run and a live run leave in a cluster: a workspace namespace with a
    pod, and a pod and a claim in the training namespace; the dead run's expired, the live
    run's not."""
    core = client.CoreV1Api(api)
    pod_spec = {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"]}],
                "nodeSelector": {"nope": "nope"}}  # stays Pending: nothing runs
    claim_spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                  "storageClassName": "none-such"}
    made = {}
    for run, expires_in in (("deadbeef", -60.0), ("a11ve000", 3600.0)):
        ns = f"gpucheck-{run}"
        core.create_namespace({"metadata": _meta(ns, run, expires_in)})
        core.create_namespaced_pod(ns, {"metadata": _meta(f"probe-{run}", run, expires_in), "spec": pod_spec})
        core.create_namespaced_pod("default", {"metadata": _meta(f"train-{run}", run, expires_in), "spec": pod_spec})
        core.create_namespaced_persistent_volume_claim("default", {"metadata": _meta(f"claim-{run}", run, expires_in),
                                                                   "spec": claim_spec})
        made[run] = [f"Namespace/{ns}", f"Pod/default/train-{run}", f"PersistentVolumeClaim/default/claim-{run}"]
    try:
        yield made
    finally:
        def gone(fn, *args):
            try:
                fn(*args)
            except client.ApiException as exc:
                assert exc.status == 404

        for run in made:
            gone(core.delete_namespace, f"gpucheck-{run}")
            gone(core.delete_namespaced_pod, f"train-{run}", "default")
            gone(core.delete_namespaced_persistent_volume_claim, f"claim-{run}", "default")
        leftovers(api)


def test_the_next_run_removes_what_an_expired_run_left_and_keeps_a_live_runs(api, sim, tmp_path, left_behind):
    res = subprocess.run([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={sim.kubeconfig}",
                          f"--report={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert res.returncode == exitcodes.READY, res.stdout[-3000:]
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("gpucheck: janitor:"))
    assert "removed 3 object(s) left by dead runs" in line
    for ref in left_behind["deadbeef"]:
        assert ref in line
    remaining = leftovers(api)
    assert sorted(remaining) == sorted(["Namespace/gpucheck-a11ve000", "Pod/gpucheck-a11ve000/probe-a11ve000",
                                        "Pod/default/train-a11ve000", "PersistentVolumeClaim/default/claim-a11ve000"])


def test_gpucheck_clean_lists_then_removes_and_all_takes_live_runs_too(api, sim, left_behind):
    def clean(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gpucheck", "clean", f"--kubeconfig={sim.kubeconfig}", *args],
                              capture_output=True, text=True, timeout=120)

    dry = clean("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert sorted(ln.split()[-1] for ln in dry.stdout.splitlines() if ln.startswith("would remove")) == \
        sorted(left_behind["deadbeef"])
    assert len(leftovers(api)) == 8  # a dry run removes nothing
    done = clean()
    assert done.returncode == 0 and "3 object(s) removed, 4 of live runs kept" in done.stdout, done.stdout
    assert len(leftovers(api)) == 4  # the live run's namespace, its pod, the training pod and claim
    everything = clean("--all")
    assert everything.returncode == 0 and "3 object(s) removed" in everything.stdout
    assert leftovers(api) == []


def test_gpucheck_clean_against_an_unreachable_cluster_exits_6_naming_it(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
                          "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
                          "current-context: c\n")
    res = subprocess.run([sys.executable, "-m", "gpucheck", "clean", f"--kubeconfig={kubeconfig}"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == exitcodes.UNREACHABLE
    assert "cannot reach the API server at https://127.0.0.1:9" in res.stderr and "Traceback" not in res.stderr


def test_a_sigkilled_run_leaves_objects_that_expire_and_the_janitor_removes(api, sim, tmp_path):
    """SIGKILL gives a run no chance to clean up. Its objects carry its run label and an
    expiry (its deadline plus a grace): once that passes, a janitor takes them."""
    core = client.CoreV1Api(api)
    rv = core.list_pod_for_all_namespaces(label_selector=RUN).metadata.resource_version
    proc = subprocess.Popen([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={sim.kubeconfig}",
                             "--timeout=120", f"--report={tmp_path}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for ev in watch.Watch().stream(core.list_pod_for_all_namespaces, label_selector=RUN, resource_version=rv,
                                       timeout_seconds=120):
            if ev["type"] == "ADDED":
                pod = ev["object"]
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    expires = pod.metadata.annotations[EXPIRES]
    run = pod.metadata.labels[RUN_LABEL]
    assert dt.datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc) > \
        dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120)
    cluster = connect(str(sim.kubeconfig))
    now = janitor.run(cluster, current_run=None, namespaces=["default"])
    assert f"Namespace/gpucheck-{run}" not in now.removed and now.kept >= 1  # not expired yet: kept
    later = janitor.run(cluster, current_run=None, namespaces=["default"], now=lambda: time.time() + 3600)
    assert f"Namespace/gpucheck-{run}" in later.removed
    assert leftovers(api) == []


def test_expiry_is_read_from_the_annotation_else_from_the_age():
    now = 1_900_000_000.0

    def obj(annotations=None, created=None):
        return View({"metadata": {"name": "x", "annotations": annotations or {}, "creationTimestamp": created}})

    iso = lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    assert janitor.expired(obj({EXPIRES: iso(now - 1)}), now, 3600)
    assert not janitor.expired(obj({EXPIRES: iso(now + 60)}, created=iso(now - 86400)), now, 3600)
    assert janitor.expired(obj(created=iso(now - 7200)), now, 3600)  # a KPO sweep pod: no annotation
    assert not janitor.expired(obj(created=iso(now - 60)), now, 3600)
    assert not janitor.expired(obj({EXPIRES: "garbage"}), now, 3600)  # unknown age is not old
