"""GPU-ALLOC-001 (allocatable = capacity) and GPU-ALLOC-002 (capacity = GFD count x replicas)."""

from __future__ import annotations

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
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
        expected = (settings.expected_by_instance_type.get(g.labels.get("node.kubernetes.io/instance-type", ""))
                    or settings.expected_by_product.get(g.labels.get("nvidia.com/gpu.product", "")))
        if short:
            text = ", ".join(f"{k} {a} of {c}" for k, (c, a) in sorted(short.items()))
            findings.append(Finding(Status.FAIL, f"{g.name}: allocatable {text} ({sum(c - a for c, a in short.values())} "
                                    "withheld as unhealthy)", f"Node/{g.name}",
                                    {"capacity": cap, "allocatable": alloc}))
        elif not cap and not alloc:
            findings.append(Finding(Status.FAIL, f"{g.name}: {g.why} but advertises no nvidia.com GPU resource",
                                    f"Node/{g.name}", {"why": g.why}))
        elif expected is not None and alloc.get("nvidia.com/gpu", 0) != expected:
            findings.append(Finding(Status.FAIL, f"{g.name}: {alloc.get('nvidia.com/gpu', 0)} GPUs allocatable, "
                                    f"{expected} expected for its type", f"Node/{g.name}",
                                    {"allocatable": alloc, "expected": expected}))
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
