"""A cluster's GPU fingerprint: what an upgrade must not take away, as plain JSON.

Pure: an inventory Snapshot in, a dict out. GPU nodes and pools are found the way the checks
find them (gpucheck.inventory.gpu_nodes), driver and CUDA versions are read from the GFD
labels GPU-DRV-001 reads, the device plugin is found the way GPU-DP-001 finds it.

    {"pools": {pool: {"nodes": [...], "capacity": {res: n}, "allocatable": {res: n},
                      "drivers": [...], "cuda": [...], "mig": [layout, ...], "taints": [...]}},
     "nodes": {name: {"pool", "capacity", "allocatable", "driver", "cuda",
                      "mig": {"strategy", "config", "slices"}, "taints": [...]}},
     "device_plugins": {"DaemonSet/ns/name": {"image", "version"}}}

A pool's `taints` are those every node of the pool carries; its `mig` the distinct node layouts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from gpucheck.config import Settings
from gpucheck.inventory import device_plugin, drivers, gpu_nodes, mig
from gpucheck.inventory.snapshot import Snapshot

# What the fingerprint reads: a baseline cannot be taken, nor a gate decided, without them.
READS = ("nodes", "daemonsets")

# Taints the control plane and autoscalers put on and take off by themselves (not-ready,
# unschedulable, being scaled down): their coming and going is not a configuration change.
_TRANSIENT_TAINTS = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/", "ToBeDeletedByClusterAutoscaler",
                     "DeletionCandidateOfClusterAutoscaler", "karpenter.sh/disruption")


def taint_text(taint: Any) -> str:
    return f"{taint.key}={taint.value or ''}:{taint.effect}"


def scheduling_taints(node: Any) -> list[str]:
    """The node's NoSchedule/NoExecute taints that someone configured, as key=value:effect."""
    return sorted({taint_text(t) for t in (node.spec.taints or []) if t.effect in ("NoSchedule", "NoExecute")
                   and not t.key.startswith(_TRANSIENT_TAINTS)})


def _node(g: gpu_nodes.GpuNode) -> dict[str, Any]:
    status = g.node.status
    return {
        "pool": g.pool,
        "capacity": dict(sorted(gpu_nodes.gpu_resources(status.capacity if status else None).items())),
        "allocatable": dict(sorted(gpu_nodes.gpu_resources(status.allocatable if status else None).items())),
        "driver": drivers.driver_of(g.labels),
        "cuda": drivers.cuda_of(g.labels),
        "mig": {"strategy": gpu_nodes.mig_strategy(g.node), "config": g.labels.get("nvidia.com/mig.config"),
                "slices": dict(sorted(mig.advertised_slices(g).items()))},
        "taints": scheduling_taints(g.node),
    }


def _totals(nodes: list[dict[str, Any]], field: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for n in nodes:
        total.update(n[field])
    return dict(sorted(total.items()))


def pool_summary(names: list[str], nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A pool's totals and version sets from its nodes' fingerprints."""
    members = [nodes[n] for n in names]
    layouts = []
    for n in members:
        if n["mig"] not in layouts:
            layouts.append(n["mig"])
    common = set(members[0]["taints"]).intersection(*(m["taints"] for m in members[1:])) if members else set()
    return {
        "nodes": sorted(names),
        "capacity": _totals(members, "capacity"),
        "allocatable": _totals(members, "allocatable"),
        "drivers": sorted({m["driver"] for m in members if m["driver"]}),
        "cuda": sorted({m["cuda"] for m in members if m["cuda"]}),
        "mig": sorted(layouts, key=str),
        "taints": sorted(common),
    }


def take(snap: Snapshot, settings: Settings) -> dict[str, Any]:
    """The fingerprint of `snap`. The snapshot's nodes and DaemonSets must have been read
    (see READS); the caller checks `snap.error_for(READS)` first."""
    found = gpu_nodes.find(snap.nodes)
    nodes = {g.name: _node(g) for g in found}
    by_pool: dict[str, list[str]] = {}
    for g in found:
        by_pool.setdefault(g.pool, []).append(g.name)
    plugins = {}
    for ds in device_plugin.find(snap, settings):
        image = next((c.image for c in ds.spec.template.spec.containers if c.image), "")
        plugins[f"DaemonSet/{ds.metadata.namespace}/{ds.metadata.name}"] = {
            "image": image, "version": device_plugin.version(ds)}
    return {
        "pools": {pool: pool_summary(names, nodes) for pool, names in sorted(by_pool.items())},
        "nodes": dict(sorted(nodes.items())),
        "device_plugins": dict(sorted(plugins.items())),
    }

