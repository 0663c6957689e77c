"""Which nodes the probes visit and what a pod there asks for."""

from __future__ import annotations

from typing import Any

from gpucheck.inventory import gpu_nodes


def pool_targets(nodes: list[Any], all_nodes: bool = False) -> list[gpu_nodes.GpuNode]:
    """One Ready, schedulable node per GPU pool (the first by name), or every such node."""
    usable = [g for g in gpu_nodes.find(nodes) if gpu_nodes.is_ready(g.node) and not g.node.spec.unschedulable]
    if all_nodes:
        return usable
    chosen: dict[str, gpu_nodes.GpuNode] = {}
    for g in usable:
        chosen.setdefault(g.pool, g)
    return [chosen[p] for p in sorted(chosen)]


def gpu_request(g: gpu_nodes.GpuNode) -> dict[str, str] | None:
    """One whole GPU, or on a mixed-strategy MIG node the smallest slice it advertises."""
    alloc = gpu_nodes.gpu_resources(g.node.status.allocatable)
    if g.labels.get("nvidia.com/mig.strategy") != "mixed" and alloc.get("nvidia.com/gpu", 0) > 0:
        return {"nvidia.com/gpu": "1"}
    slices = sorted((k for k, v in alloc.items() if k.startswith("nvidia.com/mig-") and v > 0), key=slice_size)
    return {slices[0]: "1"} if slices else None


def slice_size(resource: str) -> tuple[int, str]:
    profile = resource.rsplit("mig-", 1)[-1]
    try:
        return int(profile.split("g.")[0]), profile
    except ValueError:
        return 99, profile
