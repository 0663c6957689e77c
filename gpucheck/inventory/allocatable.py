"""GPU-ALLOC-001 (allocatable = capacity), GPU-ALLOC-002 (capacity = GFD count x replicas),
GPU-ALLOC-003 (GPU count = what the instance type has), GPU-ALLOC-004 (no shared GPUs where
teams train)."""

from __future__ import annotations

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes, tables
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status


def withheld(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = gpu_nodes.find(snap.nodes)
    if not nodes:
        return CheckResult.skip("GPU-ALLOC-001", "no GPU nodes (see GPU-INV-001)")
    findings = []
    for g in nodes:
        cap = gpu_nodes.gpu_resources(g.node.status.capacity)
        alloc = gpu_nodes.gpu_resources(g.node.status.allocatable)
        short = {k: (cap[k], alloc.get(k, 0)) for k in cap if alloc.get(k, 0) < cap[k]}
        if short:
            text = ", ".join(f"{k} {a} of {c}" for k, (c, a) in sorted(short.items()))
            findings.append(Finding(Status.FAIL, f"{g.name}: allocatable {text} ({sum(c - a for c, a in short.values())} "
                                    "withheld as unhealthy)", f"Node/{g.name}",
                                    {"capacity": cap, "allocatable": alloc}))
        elif not cap and not alloc:
            findings.append(Finding(Status.FAIL, f"{g.name}: {g.why} but advertises no nvidia.com GPU resource",
                                    f"Node/{g.name}", {"why": g.why}))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: " + ", ".join(
                f"{k} {v}" for k, v in sorted(alloc.items())), f"Node/{g.name}", {"allocatable": alloc}))
    bad = [f for f in findings if f.status == Status.FAIL]
    return CheckResult.of("GPU-ALLOC-001", findings,
                          f"{len(bad)} GPU node(s) short of GPUs: " + ", ".join(f.object[5:] for f in bad) if bad
                          else f"all GPUs allocatable on {len(nodes)} nodes")


def matches_gfd(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = [g for g in gpu_nodes.find(snap.nodes) if "nvidia.com/gpu.count" in g.labels
             and g.labels.get("nvidia.com/mig.strategy", "none") != "mixed"]
    if not nodes:
        return CheckResult.skip("GPU-ALLOC-002", "no GPU node with GFD labels outside MIG mixed strategy")
    findings = []
    for g in nodes:
        count = gpu_nodes.qty(g.labels.get("nvidia.com/gpu.count"))
        replicas = max(gpu_nodes.qty(g.labels.get("nvidia.com/gpu.replicas", "1")), 1)
        cap = gpu_nodes.gpu_resources(g.node.status.capacity).get("nvidia.com/gpu", 0)
        if g.labels.get("nvidia.com/mig.strategy") == "single":
            findings.append(Finding(Status.PASS, f"{g.name}: MIG single strategy, {cap} slices", f"Node/{g.name}"))
        elif cap != count * replicas:
            findings.append(Finding(Status.WARN, f"{g.name}: capacity nvidia.com/gpu {cap}, GFD counts {count} "
                                    f"GPU(s) x {replicas} replica(s)", f"Node/{g.name}",
                                    {"capacity": cap, "gpu.count": count, "gpu.replicas": replicas}))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: {cap} = {count} x {replicas}", f"Node/{g.name}"))
    bad = [f for f in findings if f.status != Status.PASS]
    return CheckResult.of("GPU-ALLOC-002", findings,
                          f"{len(bad)} node(s) disagree with GFD" if bad else "capacity matches GFD on every node")


def expected_gpus(g: gpu_nodes.GpuNode, settings: Settings) -> tuple[int, str] | None:
    """(GPUs the node should have, why), from the config file first, then the built-in table."""
    itype = g.labels.get("node.kubernetes.io/instance-type", "")
    product = g.labels.get("nvidia.com/gpu.product", "")
    if itype in settings.expected_by_instance_type:
        return settings.expected_by_instance_type[itype], f"expectedGpus.byInstanceType {itype}"
    if product in settings.expected_by_product:
        return settings.expected_by_product[product], f"expectedGpus.byProduct {product}"
    if itype in tables.instance_gpus():
        return tables.instance_gpus()[itype], f"instance type {itype}"
    return None


def instance_count(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = gpu_nodes.find(snap.nodes)
    if not nodes:
        return CheckResult.skip("GPU-ALLOC-003", "no GPU nodes (see GPU-INV-001)")
    findings = []
    for g in nodes:
        want = expected_gpus(g, settings)
        have = gpu_nodes.physical_gpus(g)
        obj = f"Node/{g.name}"
        if want is None:
            findings.append(Finding(Status.SKIP, f"{g.name}: no expected GPU count for it (set expectedGpus in the "
                                    "config file)", obj))
        elif have is None:
            findings.append(Finding(Status.WARN, f"{g.name}: should have {want[0]} GPUs ({want[1]}) but neither a "
                                    "GFD gpu.count label nor nvidia.com/gpu capacity says how many it has", obj))
        elif have != want[0]:
            findings.append(Finding(Status.FAIL, f"{g.name}: {have} GPUs, {want[0]} expected ({want[1]})", obj,
                                    {"gpus": have, "expected": want[0], "source": want[1]}))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: {have} GPUs as expected ({want[1]})", obj))
    judged = [f for f in findings if f.status != Status.SKIP]
    if not judged:
        return CheckResult(
            "GPU-ALLOC-003", Status.SKIP, tuple(findings),
            "no GPU node has a known instance type; set expectedGpus.byInstanceType or byProduct")
    bad = [f for f in findings if f.status in (Status.FAIL, Status.WARN)]
    return CheckResult.of("GPU-ALLOC-003", findings,
                          f"{len(bad)} node(s) with an unexpected GPU count: " + ", ".join(f.object[5:] for f in bad)
                          if bad else f"GPU count as expected on {len(judged)} node(s)")


def shared(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = [g for g in gpu_nodes.find(snap.nodes)
             if not settings.training_pools or g.pool in settings.training_pools]
    if not nodes:
        return CheckResult.skip("GPU-ALLOC-004", "no GPU nodes in the training pools")
    findings = []
    for g in nodes:
        how = gpu_nodes.sharing(g)
        obj = f"Node/{g.name}"
        if how and not settings.allow_shared_gpus:
            findings.append(Finding(Status.WARN, f"{g.name} (pool {g.pool}): GPUs are shared ({how}); a training "
                                    "pod asking for one GPU gets a slice of one, without memory isolation", obj,
                                    {"sharing": how}))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: " + (f"shared ({how}), allowed by "
                                    "training.allowSharedGpus" if how else "whole GPUs"), obj))
    bad = [f for f in findings if f.status == Status.WARN]
    return CheckResult.of("GPU-ALLOC-004", findings,
                          f"{len(bad)} training node(s) share GPUs: " + ", ".join(f.object[5:] for f in bad)
                          if bad else f"whole GPUs on {len(nodes)} training node(s)")
