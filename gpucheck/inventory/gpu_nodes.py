"""Which nodes are GPU nodes, and which pool each belongs to. Pure functions over Node objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Cloud instance types that carry NVIDIA GPUs (AWS, GCP, Azure), by name pattern.
GPU_INSTANCE = re.compile(
    r"^(p[2-6][a-z0-9]*\.|g[3-6][a-z0-9]*\.|a2-|a3-|a4-|g2-|Standard_N[CDV])", re.IGNORECASE)


def qty(value: Any) -> int:
    """An integer extended-resource quantity ("8"); anything else counts as 0."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def gpu_resources(resources: dict[str, Any] | None) -> dict[str, int]:
    return {k: qty(v) for k, v in (resources or {}).items()
            if k == "nvidia.com/gpu" or k.startswith("nvidia.com/mig-")}


@dataclass(frozen=True)
class GpuNode:
    name: str
    pool: str
    node: Any
    why: str  # what marked it as a GPU node

    @property
    def labels(self) -> dict[str, str]:
        """The node's labels, as read (not a copy: analyzers only read them)."""
        return self.node.metadata.labels or {}


def why_gpu(node: Any) -> str | None:
    labels = node.metadata.labels or {}
    res = {**gpu_resources(node.status.capacity if node.status else None),
           **gpu_resources(node.status.allocatable if node.status else None)}
    if any(v > 0 for v in res.values()):
        return "advertises " + ", ".join(sorted(k for k, v in res.items() if v > 0))
    if labels.get("nvidia.com/gpu.present") == "true" or "nvidia.com/gpu.product" in labels:
        return "GPU Feature Discovery labels"
    if "cloud.google.com/gke-accelerator" in labels:
        return "cloud.google.com/gke-accelerator label"
    if labels.get("accelerator") == "nvidia":
        return "accelerator=nvidia label"
    itype = labels.get("node.kubernetes.io/instance-type", "")
    if GPU_INSTANCE.match(itype):
        return f"GPU instance type {itype}"
    return None


def pool_of(node: Any) -> str:
    labels = node.metadata.labels or {}
    named = (labels.get("nvidia.com/gpu.product") or labels.get("cloud.google.com/gke-accelerator")
             or labels.get("node.kubernetes.io/instance-type"))
    if named:
        return named
    # No product or instance label (e.g. a bare-metal pool): group by what it advertises.
    res = gpu_resources(node.status.capacity if node.status else None)
    return "unlabelled " + (", ".join(f"{k.split('/')[1]} x{v}" for k, v in sorted(res.items()) if v) or "GPU node")


# The last node list classified and its result: every analyzer of a snapshot asks for the
# GPU nodes of the same list, which at a thousand nodes costs ~0.1 s each time.
_last: tuple[list[Any], list["GpuNode"]] | None = None


def find(nodes: list[Any]) -> list[GpuNode]:
    """The GPU nodes among `nodes`, by name. `nodes` is read, never changed (a snapshot's)."""
    global _last
    if _last is not None and _last[0] is nodes:
        return list(_last[1])
    out = []
    for n in nodes:
        why = why_gpu(n)
        if why:
            out.append(GpuNode(n.metadata.name, pool_of(n), n, why))
    found = sorted(out, key=lambda g: g.name)
    _last = (nodes, found)
    return list(found)


def is_ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def mig_strategy(node: Any) -> str:
    """none, single or mixed: GFD's label when present, else what the node advertises."""
    labels = node.metadata.labels or {}
    if labels.get("nvidia.com/mig.strategy") in ("none", "single", "mixed"):
        return labels["nvidia.com/mig.strategy"]
    res = gpu_resources(node.status.capacity if node.status else None)
    if any(v > 0 for k, v in res.items() if k.startswith("nvidia.com/mig-")):
        return "mixed"
    return "single" if "-MIG-" in labels.get("nvidia.com/gpu.product", "") else "none"


def physical_gpus(g: GpuNode) -> int | None:
    """How many physical GPUs the node has, or None when nothing says.

    GFD's gpu.count is the device count whatever the sharing or MIG mode; without it, the
    capacity nvidia.com/gpu divided by the replicas of a shared GPU (no MIG)."""
    if "nvidia.com/gpu.count" in g.labels:
        return qty(g.labels["nvidia.com/gpu.count"])
    if mig_strategy(g.node) != "none":
        return None
    cap = gpu_resources(g.node.status.capacity if g.node.status else None).get("nvidia.com/gpu")
    if cap is None:
        return None
    return cap // max(qty(g.labels.get("nvidia.com/gpu.replicas", "1")), 1)


def sharing(g: GpuNode) -> str | None:
    """How the node's GPUs are shared between pods (time-slicing, MPS), or None."""
    labels = g.labels
    strategy = labels.get("nvidia.com/gpu.sharing-strategy", "none")
    replicas = qty(labels.get("nvidia.com/gpu.replicas", "1"))
    if strategy not in ("none", ""):
        return f"{strategy}, {replicas} replicas per GPU" if replicas > 1 else strategy
    if replicas > 1:
        return f"{replicas} replicas per GPU"
    if labels.get("nvidia.com/gpu.product", "").endswith("-SHARED"):
        return "shared (product label ends in -SHARED)"
    return None
