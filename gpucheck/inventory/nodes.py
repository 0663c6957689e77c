"""GPU-INV-001 (GPU nodes exist) and GPU-NODE-001 (they are Ready and schedulable)."""

from __future__ import annotations

from collections import Counter

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status


def inventory(snap: Snapshot, settings: Settings) -> CheckResult:
    found = gpu_nodes.find(snap.nodes)
    if not found:
        return CheckResult.of("GPU-INV-001", [Finding(
            Status.FAIL, f"none of the {len(snap.nodes)} nodes has GPUs", "Cluster")],
            "no GPU nodes")
    pools = Counter(g.pool for g in found)
    findings = [Finding(Status.PASS, f"{n} node(s) in pool {pool}", f"Pool/{pool}",
                        {"nodes": sorted(g.name for g in found if g.pool == pool)})
                for pool, n in sorted(pools.items())]
    return CheckResult.of("GPU-INV-001", findings,
                          f"{len(found)} GPU nodes in {len(pools)} pool(s): "
                          + ", ".join(f"{p} x{n}" for p, n in sorted(pools.items())))


def ready(snap: Snapshot, settings: Settings) -> CheckResult:
    found = gpu_nodes.find(snap.nodes)
    if not found:
        return CheckResult.skip("GPU-NODE-001", "no GPU nodes (see GPU-INV-001)")
    findings = []
    for g in found:
        cond = next((c for c in (g.node.status.conditions or []) if c.type == "Ready"), None)
        if not gpu_nodes.is_ready(g.node):
            detail = f"{cond.reason}: {cond.message}" if cond else "no Ready condition"
            findings.append(Finding(Status.FAIL, f"{g.name} is NotReady ({detail})", f"Node/{g.name}",
                                    {"ready": cond.status if cond else None}))
        elif g.node.spec.unschedulable:
            findings.append(Finding(Status.FAIL, f"{g.name} is cordoned (unschedulable)", f"Node/{g.name}"))
        else:
            findings.append(Finding(Status.PASS, f"{g.name} is Ready", f"Node/{g.name}"))
    bad = [f for f in findings if f.status != Status.PASS]
    return CheckResult.of("GPU-NODE-001", findings,
                          f"{len(bad)} of {len(found)} GPU nodes not Ready or cordoned" if bad
                          else f"all {len(found)} GPU nodes Ready")
