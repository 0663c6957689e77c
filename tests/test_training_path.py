"""The rest of the training path: what the fault scenarios do not cover. RWO contention for a
sweep's shared claim, the least-privilege rules of the service-account review, the Prometheus
series query (against a loopback HTTP server speaking Prometheus' query API), and the
autoscaling and metrics rules on hand-made objects."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client

from gpucheck.access import prometheus, service_account
from gpucheck.cluster.client import connect
from gpucheck.cluster.view import View
from gpucheck.config import resolve
from gpucheck.inventory import autoscaling, metrics_exporter
from gpucheck.inventory.snapshot import Snapshot, take
from gpucheck.model import Status
from gpucheck.run import RunState
from gpucheck.sim import expectations_file


def settings_with(tmp_path, text: str, kubeconfig: str | None = None):
    cfg = tmp_path / "gpucheck.yaml"
    cfg.write_text(text)
    cli = {"config_file": str(cfg)}
    if kubeconfig:
        cli["kubeconfig"] = kubeconfig
    return resolve(cli=cli, env={})


@pytest.mark.sim
def test_a_readwriteonce_claim_shared_by_the_sweep_is_flagged(sim, api, tmp_path):
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim("default", {
        "metadata": {"name": "shared-checkpoints"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    try:
        s = settings_with(tmp_path, "storage: {sweepClaim: shared-checkpoints}\nsweep: {experiments: 50}\n",
                          str(sim.kubeconfig))
        state = RunState(s)
        try:
            result = state.evaluate("GPU-STORAGE-002")
        finally:
            assert state.cleanup() is None
        assert result.status == Status.WARN, result.summary
        assert "50 pods share default/shared-checkpoints, which is ReadWriteOnce" in result.summary
    finally:
        core.delete_namespaced_persistent_volume_claim("shared-checkpoints", "default")


@pytest.mark.sim
def test_the_service_account_review_flags_defaults_missing_accounts_and_missing_rights(sim, api, tmp_path):
    cluster = connect(str(sim.kubeconfig))
    base = resolve(cli={"config_file": expectations_file()}, env={})
    assert service_account.review(cluster, base).status == Status.PASS
    for text, expect in (("training: {serviceAccount: default}\n", "is the namespace default"),
                         ("training: {serviceAccount: nobody-here}\n", "does not exist")):
        r = service_account.review(cluster, settings_with(tmp_path, text))
        assert r.status == Status.FAIL and expect in r.summary, r.summary
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account("default", {"metadata": {"name": "idle-trainer"}})
    try:
        r = service_account.review(cluster, settings_with(tmp_path, "training: {serviceAccount: idle-trainer, "
                                                                   "launchesPods: true}\n"))
        assert r.status == Status.FAIL
        assert "may not create pods, get pods, list pods, watch pods, delete pods, get pods/log" in r.summary
    finally:
        core.delete_namespaced_service_account("idle-trainer", "default")


class _Prometheus(BaseHTTPRequestHandler):
    answer: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_prometheus():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()


def _gpu_nodes(n: int, gpus: int) -> list[View]:
    return [View({"metadata": {"name": f"g{i}", "labels": {"nvidia.com/gpu.count": str(gpus)}},
                  "spec": {}, "status": {"capacity": {"nvidia.com/gpu": str(gpus)}}}) for i in range(n)]


def test_prometheus_needs_one_series_per_gpu(fake_prometheus, tmp_path):
    url = f"http://127.0.0.1:{fake_prometheus.server_address[1]}"
    s = settings_with(tmp_path, f"metrics: {{prometheusUrl: '{url}'}}\n")
    snap = Snapshot(nodes=_gpu_nodes(2, 2))
    series = [{"metric": {"Hostname": f"g{i // 2}", "gpu": str(i % 2)}, "value": [0, "87"]} for i in range(4)]
    _Prometheus.answer = {"status": "success", "data": {"resultType": "vector", "result": series}}
    assert prometheus.series(snap, s).status == Status.PASS
    _Prometheus.answer = {"status": "success", "data": {"resultType": "vector", "result": series[:3]}}
    assert prometheus.series(snap, s).status == Status.WARN
    _Prometheus.answer = {"status": "success", "data": {"resultType": "vector", "result": []}}
    assert prometheus.series(snap, s).status == Status.FAIL
    _Prometheus.answer = {"status": "error", "error": "bad_data"}
    assert prometheus.series(snap, s).status == Status.ERROR
    unreachable = settings_with(tmp_path, "metrics: {prometheusUrl: 'http://127.0.0.1:9'}\n")
    r = prometheus.series(snap, unreachable)
    assert r.status == Status.ERROR and "did not answer" in r.summary


def test_a_cluster_autoscaler_covers_every_pool_and_no_autoscaler_warns():
    nodes = [View({"metadata": {"name": "g0", "labels": {"nvidia.com/gpu.product": "L4"}}, "spec": {},
                   "status": {"capacity": {"nvidia.com/gpu": "1"}}})]
    ca = View({"metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"},
               "spec": {"template": {"spec": {"containers": [
                   {"image": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0"}]}}}})
    s = resolve(env={})
    assert autoscaling.coverage(Snapshot(nodes=nodes, deployments=[ca]), s).status == Status.PASS
    r = autoscaling.coverage(Snapshot(nodes=nodes), s)
    assert r.status == Status.WARN and "no cluster autoscaler and no Karpenter NodePool" in r.summary
    zero = View({"metadata": {"name": "gpu-b200"}, "spec": {"limits": {"nvidia.com/gpu": "64"}, "template": {"spec": {
        "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["p6-b200.48xlarge"]}],
        "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}}}})
    r = autoscaling.coverage(Snapshot(nodes=nodes, deployments=[ca], nodepools=[zero]), s)
    assert r.status == Status.PASS and any("scales from zero" in f.message for f in r.findings)


@pytest.mark.sim
def test_an_exporter_without_a_servicemonitor_warns_where_the_prometheus_operator_runs(sim):
    snap = take(connect(str(sim.kubeconfig)))
    assert "servicemonitors" in snap.absent
    with_operator = Snapshot(**{**snap.__dict__, "absent": set(), "servicemonitors": []})
    r = metrics_exporter.exporter(with_operator, resolve(env={}))
    assert r.status == Status.WARN and "no ServiceMonitor scrapes" in r.summary
