"""Fault scenarios change what they claim on the live cluster and revert to the baseline."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client

from gpucheck.cluster.wait import wait_for
from gpucheck.sim import scenarios

pytestmark = pytest.mark.sim

DS = ("kube-system", "nvidia-device-plugin-daemonset")


def fingerprint(api) -> dict:
    """What the scenarios may touch, in a comparable form."""
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    nodes = {}
    day_ago = time.time() - 86400
    for n in core.list_node().items:
        labels = {k: v for k, v in (n.metadata.labels or {}).items() if k != "nvidia.com/gfd.timestamp"}
        # Revert writes a new timestamp; what must come back is its freshness.
        labels["gfd fresh"] = str(float(n.metadata.labels.get("nvidia.com/gfd.timestamp", 0)) > day_ago)
        anns = {k: v for k, v in (n.metadata.annotations or {}).items() if k.startswith("sim.gpucheck.io/")}
        taints = sorted((t.key, t.value, t.effect) for t in (n.spec.taints or []))
        alloc = {k: v for k, v in n.status.allocatable.items() if k.startswith("nvidia.com/")}
        cap = {k: v for k, v in n.status.capacity.items() if k.startswith("nvidia.com/")}
        conditions = sorted((c.type, c.status) for c in n.status.conditions or [])
        nodes[n.metadata.name] = (json.dumps(labels, sort_keys=True), json.dumps(anns, sort_keys=True),
                                  taints, json.dumps(alloc, sort_keys=True), json.dumps(cap, sort_keys=True),
                                  conditions)
    try:
        ds = apps.read_namespaced_daemon_set(DS[1], DS[0])
        ds_fp = json.dumps([t.to_dict() for t in ds.spec.template.spec.tolerations or []], sort_keys=True)
    except client.ApiException as exc:
        assert exc.status == 404
        ds_fp = None
    namespaces = sorted(n.metadata.name for n in core.list_namespace().items
                        if n.status.phase == "Active" and not n.metadata.name.startswith("t-"))
    quotas = sorted(f"{q.metadata.namespace}/{q.metadata.name}"
                    for q in core.list_resource_quota_for_all_namespaces().items)
    priority = sorted(p.metadata.name for p in client.SchedulingV1Api(api).list_priority_class().items)
    daemonsets = sorted(f"{d.metadata.namespace}/{d.metadata.name}"
                        for d in apps.list_daemon_set_for_all_namespaces().items)
    secrets = sorted(s.metadata.name for s in core.list_namespaced_secret("default").items)
    storage = client.StorageV1Api(api)
    classes = sorted(c.metadata.name for c in storage.list_storage_class().items)
    volumes = sorted(v.metadata.name for v in core.list_persistent_volume().items)
    bindings = sorted(b.metadata.name for b in client.RbacAuthorizationV1Api(api).list_cluster_role_binding().items)
    nodepools = sorted(p["metadata"]["name"] for p in client.CustomObjectsApi(api).list_cluster_custom_object(
        "karpenter.sh", "v1", "nodepools")["items"])
    return {"nodes": nodes, "ds": ds_fp, "namespaces": namespaces, "quotas": quotas, "priority": priority,
            "daemonsets": daemonsets, "secrets": secrets, "storageclasses": classes, "volumes": volumes,
            "clusterrolebindings": bindings, "nodepools": nodepools}


def _ns_gone(api, name: str) -> None:
    from gpucheck.cluster.wait import wait_deleted

    wait_deleted(client.CoreV1Api(api).list_namespace, name=name, timeout=60, what=f"namespace {name} gone")


@pytest.mark.parametrize("name", sorted(scenarios.catalog()))
def test_scenario_applies_and_reverts(api, name):
    before = fingerprint(api)
    try:
        touched = scenarios.apply(api, name)
        assert touched
        if name == "device-plugin-not-ready":
            ds = wait_for(client.AppsV1Api(api).list_namespaced_daemon_set, lambda d: d.status.number_ready == 4,
                          DS[0], name=DS[1], timeout=30, what="the device plugin to report 4 of 5 ready")
            assert ds.status.desired_number_scheduled == 5
        else:
            assert fingerprint(api) != before, f"{name} changed nothing visible"
    finally:
        # Even when an assertion above fails: later tests share this cluster.
        scenarios.revert(api, name)
    if name == "gpu-squatter":
        _ns_gone(api, "team-web")
    scenarios.wait_device_plugin_settled(api)
    assert fingerprint(api) == before


def test_every_scenario_names_the_check_that_catches_it():
    for s in scenarios.catalog().values():
        assert s.caught_by.startswith("GPU-") and s.description, s.name


def test_unknown_scenario_lists_the_valid_ones():
    with pytest.raises(scenarios.ScenarioError) as err:
        scenarios.validate(["nope"])
    assert "nope" in str(err.value)
    for name in scenarios.catalog():
        assert name in str(err.value)
