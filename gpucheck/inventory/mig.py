"""GPU-MIG-001 (strategy agrees with resources) and GPU-MIG-002 (layout applied)."""

from __future__ import annotations

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status


def strategy(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = [g for g in gpu_nodes.find(snap.nodes)
             if g.labels.get("nvidia.com/mig.strategy") in ("single", "mixed")
             or any(k.startswith("nvidia.com/mig-") for k in gpu_nodes.gpu_resources(g.node.status.capacity))]
    if not nodes:
        return CheckResult.skip("GPU-MIG-001", "no node uses MIG")
    findings = []
    for g in nodes:
        strat = g.labels.get("nvidia.com/mig.strategy", "none")
        alloc = gpu_nodes.gpu_resources(g.node.status.allocatable)
        migs = {k: v for k, v in alloc.items() if k.startswith("nvidia.com/mig-")}
        full = alloc.get("nvidia.com/gpu", 0)
        ev = {"strategy": strat, "allocatable": alloc}
        if strat == "mixed" and full > 0:
            findings.append(Finding(Status.FAIL, f"{g.name}: mixed strategy but also advertises nvidia.com/gpu {full}",
                                    f"Node/{g.name}", ev))
        elif strat == "mixed" and not any(migs.values()):
            findings.append(Finding(Status.FAIL, f"{g.name}: mixed strategy but no nvidia.com/mig-* resource",
                                    f"Node/{g.name}", ev))
        elif strat == "single" and (any(migs.values()) or "-MIG-" not in g.labels.get("nvidia.com/gpu.product", "")):
            findings.append(Finding(Status.FAIL, f"{g.name}: single strategy needs nvidia.com/gpu slices and a -MIG- "
                                    "product, and no mig-* resources", f"Node/{g.name}", ev))
        elif strat == "none" and any(migs.values()):
            findings.append(Finding(Status.FAIL, f"{g.name}: advertises MIG slices without a MIG strategy label",
                                    f"Node/{g.name}", ev))
        elif any(v == 0 for v in migs.values()):
            stale = sorted(k for k, v in migs.items() if v == 0)
            findings.append(Finding(Status.WARN, f"{g.name}: stale zero-valued {', '.join(stale)}", f"Node/{g.name}", ev))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: {strat} strategy, " + ", ".join(
                f"{k.split('/')[1]} {v}" for k, v in sorted(alloc.items()) if v), f"Node/{g.name}", ev))
    bad = [f for f in findings if f.status != Status.PASS]
    return CheckResult.of("GPU-MIG-001", findings,
                          "; ".join(f.message for f in bad) if bad else f"MIG consistent on {len(nodes)} node(s)")


def config_state(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = [g for g in gpu_nodes.find(snap.nodes) if "nvidia.com/mig.config.state" in g.labels]
    if not nodes:
        return CheckResult.skip("GPU-MIG-002", "no node carries nvidia.com/mig.config.state")
    findings = []
    for g in nodes:
        state = g.labels["nvidia.com/mig.config.state"]
        config = g.labels.get("nvidia.com/mig.config", "?")
        if state in ("pending", "failed"):
            findings.append(Finding(Status.FAIL, f"{g.name}: MIG config {config} is {state}", f"Node/{g.name}",
                                    {"mig.config": config, "mig.config.state": state}))
        elif state == "success":
            findings.append(Finding(Status.PASS, f"{g.name}: MIG config {config} applied", f"Node/{g.name}"))
        else:
            findings.append(Finding(Status.WARN, f"{g.name}: MIG config {config} state {state}", f"Node/{g.name}"))
    bad = [f for f in findings if f.status != Status.PASS]
    return CheckResult.of("GPU-MIG-002", findings,
                          "; ".join(f.message for f in bad) if bad else "MIG layouts applied")
