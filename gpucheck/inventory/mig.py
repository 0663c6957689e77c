"""GPU-MIG-001 (strategy agrees with resources), GPU-MIG-002 (layout applied) and GPU-MIG-003
(slice counts fit the GPU model)."""

from __future__ import annotations

import re

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes, tables
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
    return CheckResult.summarized("GPU-MIG-001", findings, f"MIG consistent on {len(nodes)} node(s)")


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
    return CheckResult.summarized("GPU-MIG-002", findings, "MIG layouts applied")


def advertised_slices(g: gpu_nodes.GpuNode) -> dict[str, int]:
    """MIG profile -> instances the node advertises (capacity), whatever the strategy."""
    cap = gpu_nodes.gpu_resources(g.node.status.capacity)
    if gpu_nodes.mig_strategy(g.node) == "single":
        product = g.labels.get("nvidia.com/gpu.product", "")
        return {product.split("-MIG-", 1)[1]: cap.get("nvidia.com/gpu", 0)} if "-MIG-" in product else {}
    # Resource names cannot hold "+": the device plugin advertises 1g.5gb+me as mig-1g.5gb.me.
    return {re.sub(r"\.me$", "+me", k.split("mig-", 1)[1]): v for k, v in cap.items()
            if k.startswith("nvidia.com/mig-") and v}


def slice_limits(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = [g for g in gpu_nodes.find(snap.nodes) if advertised_slices(g)]
    if not nodes:
        return CheckResult.skip("GPU-MIG-003", "no node advertises MIG slices")
    findings = []
    for g in nodes:
        obj = f"Node/{g.name}"
        slices = advertised_slices(g)
        product = g.labels.get("nvidia.com/gpu.product", "").split("-MIG-")[0]
        gpus = gpu_nodes.physical_gpus(g)
        model = tables.mig_model(product) if product else None
        layout = ", ".join(f"{p} x{n}" for p, n in sorted(slices.items()))
        if model is None or not gpus:
            why = f"GPU model {product!r} has no known MIG limits" if product else "no nvidia.com/gpu.product label"
            findings.append(Finding(Status.SKIP, f"{g.name}: {layout}; {why}" + ("" if gpus else
                                    ", and no nvidia.com/gpu.count label"), obj))
            continue
        problems = []
        unknown = sorted(p for p in slices if p not in model.profiles)
        if unknown:
            problems.append(f"{', '.join(unknown)} is not a {model.model} profile "
                            f"(it has {', '.join(model.profiles)})")
        problems += [f"{n} x {p} exceeds {model.profiles[p]} per GPU x {gpus} GPU(s)"
                     for p, n in sorted(slices.items()) if p in model.profiles and n > model.profiles[p] * gpus]
        compute = sum(model.slices(p)[0] * n for p, n in slices.items())
        memory = sum(model.slices(p)[1] * n for p, n in slices.items())
        if compute > model.compute_slices * gpus:
            problems.append(f"{compute} compute slices in use, {model.compute_slices * gpus} exist")
        if memory > model.memory_slices * gpus:
            problems.append(f"{memory} memory slices in use, {model.memory_slices * gpus} exist")
        ev = {"slices": slices, "gpus": gpus, "model": model.model}
        if problems:
            findings.append(Finding(Status.FAIL, f"{g.name} ({gpus}x {model.model}): " + "; ".join(problems),
                                    obj, ev))
        else:
            findings.append(Finding(Status.PASS, f"{g.name} ({gpus}x {model.model}): {layout} fits", obj, ev))
    bad = [f for f in findings if f.status == Status.FAIL]
    judged = [f for f in findings if f.status != Status.SKIP]
    if not judged:
        return CheckResult("GPU-MIG-003", Status.SKIP, tuple(findings), "no MIG node of a GPU model with known limits")
    return CheckResult.of("GPU-MIG-003", findings,
                          "; ".join(f.message for f in bad) if bad else f"MIG layouts fit on {len(judged)} node(s)")
