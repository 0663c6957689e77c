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
    return {"nodes": nodes, "ds": ds_fp, "namespaces": namespaces, "quotas": quotas, "priority": priority}


def _ds_ready(api) -> None:
    apps = client.AppsV1Api(api)
    wait_for(apps.list_namespaced_daemon_set,
             lambda d: d.status.desired_number_scheduled == 5 and d.status.number_ready == 5
             and d.status.updated_number_scheduled == 5,
             DS[0], name=DS[1], timeout=60, what="the device plugin to be ready on all 5 GPU nodes")


def _ns_gone(api, name: str) -> None:
    from gpucheck.cluster.wait import wait_deleted

    wait_deleted(client.CoreV1Api(api).list_namespace, name=name, timeout=60, what=f"namespace {name} gone")


@pytest.mark.parametrize("name", sorted(scenarios.catalog()))
def test_scenario_applies_and_reverts(api, name):
    before = fingerprint(api)
    touched = scenarios.apply(api, name)
    assert touched
    if name == "device-plugin-not-ready":
        ds = wait_for(client.AppsV1Api(api).list_namespaced_daemon_set, lambda d: d.status.number_ready == 4,
                      DS[0], name=DS[1], timeout=30, what="the device plugin to report 4 of 5 ready")
        assert ds.status.desired_number_scheduled == 5
    else:
        assert fingerprint(api) != before, f"{name} changed nothing visible"
    scenarios.revert(api, name)
    if name == "gpu-squatter":
        _ns_gone(api, "team-web")
    _ds_ready(api)
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
