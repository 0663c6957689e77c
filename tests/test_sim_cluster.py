"""The simulated cluster behaves as a real GPU cluster would, through the real control plane."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from kubernetes import client, watch

from gpucheck.cluster.pods import read_log
from gpucheck.cluster.wait import wait_deleted, wait_for
from gpucheck.sim import binaries, profiles, smi_render

pytestmark = pytest.mark.sim

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _pod(name: str, *, gpus: int = 0, command: list[str] | None = None, tolerate: bool = True,
         node_selector: dict[str, str] | None = None, extra_limits: dict[str, str] | None = None) -> dict:
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    limits.update(extra_limits or {})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": {"sim.gpucheck.io/duration": "1s"}},
        "spec": {
            "restartPolicy": "Never",
            "tolerations": [GPU_TOLERATION] if tolerate else [],
            "nodeSelector": node_selector or {},
            "containers": [{
                "name": "main",
                "image": "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
                "command": command or ["nvidia-smi", "-q"],
                "resources": {"limits": limits} if limits else {},
            }],
        },
    }


def _wait_phase(core, ns: str, name: str, phases: tuple[str, ...], timeout: float = 30) -> client.V1Pod:
    return wait_for(core.list_namespaced_pod, lambda p: p.status.phase in phases, ns,
                    name=name, timeout=timeout,
                    what=f"pod {ns}/{name} to reach {'/'.join(phases)}")


def _scheduling_event(core, ns: str, pod: str, timeout: float = 30) -> str:
    """The scheduler's FailedScheduling message for a pod, as `kubectl describe` shows it."""
    sel = f"involvedObject.name={pod},reason=FailedScheduling"
    found = core.list_namespaced_event(ns, field_selector=sel)
    if found.items:
        return found.items[0].message
    for ev in watch.Watch().stream(core.list_namespaced_event, ns, field_selector=sel,
                                   resource_version=found.metadata.resource_version,
                                   timeout_seconds=int(timeout)):
        return ev["object"].message
    raise AssertionError(f"no FailedScheduling event for {ns}/{pod} within {timeout}s")


def test_default_profile_nodes_are_ready_with_gpus_and_labels(api):
    core = client.CoreV1Api(api)
    nodes = {n.metadata.name: n for n in core.list_node().items}
    expected = {n["metadata"]["name"]: n for n in profiles.node_objects(profiles.load("default"))}
    assert set(nodes) == set(expected)
    for name, want in expected.items():
        node = nodes[name]
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions), name
        for res, qty in want["status"]["allocatable"].items():
            if res.startswith("nvidia.com/"):
                assert node.status.allocatable[res] == qty, (name, res)
                assert node.status.capacity[res] == qty, (name, res)
        for key in ("nvidia.com/gpu.product", "nvidia.com/gpu.count", "nvidia.com/gpu.memory",
                    "nvidia.com/cuda.driver-version.full", "nvidia.com/cuda.runtime-version.full",
                    "nvidia.com/mig.strategy"):
            assert node.metadata.labels.get(key) == want["metadata"]["labels"].get(key), (name, key)
    h100 = nodes["gpu-h100-0"]
    assert h100.status.allocatable["nvidia.com/gpu"] == "8"
    assert h100.metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert [(t.key, t.value, t.effect) for t in h100.spec.taints] == [("nvidia.com/gpu", "present", "NoSchedule")]
    a100 = nodes["gpu-a100-mig-0"]
    assert a100.metadata.labels["nvidia.com/mig.strategy"] == "mixed"
    assert a100.status.allocatable["nvidia.com/mig-1g.10gb"] == "8"
    assert "nvidia.com/gpu" not in a100.status.allocatable
    assert "nvidia.com/gpu" not in nodes["cpu-0"].status.allocatable


def test_device_plugin_daemonset_is_ready_on_every_gpu_node(api):
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    gpu_nodes = {n.metadata.name for n in core.list_node(label_selector="nvidia.com/gpu.present=true").items}
    ds = apps.read_namespaced_daemon_set("nvidia-device-plugin-daemonset", "kube-system")
    assert len(gpu_nodes) == 5
    assert ds.status.desired_number_scheduled == ds.status.number_ready == ds.status.number_available == len(gpu_nodes)
    pods = core.list_namespaced_pod("kube-system", label_selector="name=nvidia-device-plugin-ds").items
    assert {p.spec.node_name for p in pods} == gpu_nodes
    assert all(p.status.phase == "Running" for p in pods)


def test_gpu_pod_with_toleration_lands_on_gpu_node_and_succeeds(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, _pod("train", gpus=1))
    pod = _wait_phase(core, namespace, "train", ("Succeeded", "Failed"))
    assert pod.status.phase == "Succeeded"
    node = core.read_node(pod.spec.node_name)
    assert int(node.status.allocatable.get("nvidia.com/gpu", "0")) >= 1


def test_pod_asking_for_nine_gpus_stays_pending_with_insufficient_gpu(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, _pod("too-big", gpus=9))
    message = _scheduling_event(core, namespace, "too-big")
    assert "Insufficient nvidia.com/gpu" in message
    assert core.read_namespaced_pod("too-big", namespace).status.phase == "Pending"


def test_pod_without_toleration_pinned_to_gpu_node_stays_pending(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, _pod(
        "no-toleration", tolerate=False, command=["sleep", "1"],
        node_selector={"kubernetes.io/hostname": "gpu-h100-0"}))
    message = _scheduling_event(core, namespace, "no-toleration")
    # Since 1.33 the scheduler counts nodes with "untolerated taint(s)" without naming the key.
    assert "untolerated taint" in message
    pod = core.read_namespaced_pod("no-toleration", namespace)
    assert pod.status.phase == "Pending"
    cond = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert (cond.status, cond.reason) == ("False", "Unschedulable")


def test_kubectl_logs_of_nvidia_smi_pod_on_h100_node_is_h100_output(api, namespace, sim):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, _pod(
        "smi", gpus=1, node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}))
    _wait_phase(core, namespace, "smi", ("Succeeded",))
    kubectl = binaries.locate("kubectl")
    assert kubectl is not None
    out = subprocess.run([str(kubectl), f"--kubeconfig={sim.kubeconfig}", "-n", namespace, "logs", "smi"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert "Product Name                          : NVIDIA H100 80GB HBM3" in out
    assert "Driver Version                            : 565.57.01" in out
    assert "Attached GPUs                             : 1" in out
    assert out.count("GPU UUID") == 1


def test_two_one_gpu_pods_on_one_node_see_different_gpus(api, namespace):
    core = client.CoreV1Api(api)
    sel = {"kubernetes.io/hostname": "gpu-h100-1"}
    for name in ("a", "b"):
        pod = _pod(name, gpus=1, node_selector=sel)
        pod["metadata"]["annotations"]["sim.gpucheck.io/duration"] = "5s"
        core.create_namespaced_pod(namespace, pod)
    uuids = []
    for name in ("a", "b"):
        _wait_phase(core, namespace, name, ("Succeeded",))
        log = read_log(core, name, namespace)
        uuids += [line.split(":", 1)[1].strip() for line in log.splitlines() if "GPU UUID" in line]
    assert len(uuids) == 2 and uuids[0] != uuids[1]


def test_pod_without_gpu_request_on_gpu_node_sees_no_gpu(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, _pod("nogpu", node_selector={"kubernetes.io/hostname": "gpu-h100-0"}))
    pod = _wait_phase(core, namespace, "nogpu", ("Succeeded", "Failed"))
    assert pod.status.phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 6
    assert read_log(core, "nogpu", namespace).strip() == "No devices were found"


def test_mig_slice_pod_sees_exactly_one_slice_of_its_profile(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, _pod(
        "slice", command=["nvidia-smi", "-L"], extra_limits={"nvidia.com/mig-2g.20gb": "1"}))
    pod = _wait_phase(core, namespace, "slice", ("Succeeded",))
    assert pod.spec.node_name == "gpu-a100-mig-0"
    lines = read_log(core, "slice", namespace).splitlines()
    assert lines[0].startswith("GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-")
    migs = [line for line in lines if line.strip().startswith("MIG ")]
    assert len(migs) == 1 and "MIG 2g.20gb" in migs[0]


def test_deleting_a_namespace_with_pods_completes(api):
    core = client.CoreV1Api(api)
    ns = f"t-del-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": ns}})
    for i in range(3):
        core.create_namespaced_pod(ns, _pod(f"p{i}", gpus=1))
    core.delete_namespace(ns)
    wait_deleted(core.list_namespace, name=ns, timeout=60, what=f"namespace {ns} to be deleted")


def test_smi_outputs_come_from_vendored_recordings():
    rec = smi_render.parse_q(smi_render.read_recording("h100-80gb-hbm3_565.57.01.q.txt"))
    assert len(rec.gpus) == 8 and all(g.name == "NVIDIA H100 80GB HBM3" for g in rec.gpus)


def test_podsecurity_restricted_is_enforced(api):
    core = client.CoreV1Api(api)
    ns = f"t-psa-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": ns, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})
    try:
        privileged = _pod("root", gpus=1)
        privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
        with pytest.raises(client.ApiException) as err:
            core.create_namespaced_pod(ns, privileged)
        assert err.value.status == 403 and "violates PodSecurity" in err.value.body
    finally:
        core.delete_namespace(ns)


def test_service_account_tokens_are_issued_and_accepted(api, namespace, sim):
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "trainer"}})
    token = core.create_namespaced_service_account_token(
        "trainer", namespace, {"spec": {"expirationSeconds": 600}}).status.token
    review = client.AuthenticationV1Api(api).create_token_review({"spec": {"token": token}})
    assert review.status.authenticated
    assert review.status.user.username == f"system:serviceaccount:{namespace}:trainer"
    # RBAC is on: a fresh service account may not list nodes.
    sar = client.AuthorizationV1Api(api).create_subject_access_review({"spec": {
        "user": review.status.user.username, "groups": review.status.user.groups,
        "resourceAttributes": {"verb": "list", "resource": "nodes"}}})
    assert not sar.status.allowed
