"""GPU-SCALE-001: a cluster autoscaler or Karpenter can grow the GPU pools.

Karpenter's NodePools are matched against each GPU pool (their requirements against a pool
node's labels); the cluster autoscaler's node groups are not visible in the API, so its
presence counts for every pool. NodePools that could make GPU nodes but have none today are
reported: the first sweep there waits for a node to boot (scale from zero).
"""

from __future__ import annotations

from typing import Any

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status

CID = "GPU-SCALE-001"


def _requirement_ok(req: Any, labels: dict[str, str]) -> bool:
    value = labels.get(req.key)
    op = req.operator
    if op == "In":
        return value in (req.values or [])
    if op == "NotIn":
        return value not in (req.values or [])
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    return True  # Gt/Lt and friends: not a pool identity


def _matches(pool: Any, labels: dict[str, str]) -> bool:
    spec = pool.spec.template.spec if pool.spec and pool.spec.template else None
    reqs = (spec.requirements if spec else None) or []
    return bool(reqs) and all(_requirement_ok(r, labels) for r in reqs)


def coverage(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = gpu_nodes.find(snap.nodes)
    if not nodes:
        return CheckResult.skip(CID, "no GPU nodes (see GPU-INV-001)")
    ca = [d for d in snap.deployments if "cluster-autoscaler" in (d.metadata.name or "") or any(
        "cluster-autoscaler" in (c.image or "") for c in d.spec.template.spec.containers or [])]
    pools: dict[str, list[gpu_nodes.GpuNode]] = {}
    for g in nodes:
        pools.setdefault(g.pool, []).append(g)
    findings = []
    if not ca and not snap.nodepools:
        return CheckResult.of(CID, [Finding(Status.WARN, "no cluster autoscaler and no Karpenter NodePool: GPU pools "
                                            "cannot grow when a sweep needs more GPUs", "Cluster")],
                              "no cluster autoscaler and no Karpenter NodePool: the GPU pools cannot grow")
    for pool, members in sorted(pools.items()):
        matched = sorted(p.metadata.name for p in snap.nodepools if _matches(p, members[0].labels))
        if matched:
            findings.append(Finding(Status.PASS, f"pool {pool}: Karpenter NodePool {', '.join(matched)}", f"Pool/{pool}"))
        elif ca:
            findings.append(Finding(Status.PASS, f"pool {pool}: cluster-autoscaler "
                                    f"{ca[0].metadata.namespace}/{ca[0].metadata.name} (its node groups are not "
                                    "visible in the API)", f"Pool/{pool}"))
        else:
            findings.append(Finding(Status.WARN, f"pool {pool}: no NodePool matches its nodes; it cannot grow",
                                    f"Pool/{pool}"))
    for p in snap.nodepools:
        if not any(_matches(p, g.labels) for g in nodes):
            limits = (p.spec.limits or {}) if p.spec else {}
            if any(k.startswith("nvidia.com/") for k in limits) or any(
                    t.key.startswith("nvidia.com/") for t in (p.spec.template.spec.taints or [])):
                findings.append(Finding(Status.PASS, f"NodePool {p.metadata.name} scales from zero: no GPU node yet, "
                                        "the first sweep there waits for one to boot", f"NodePool/{p.metadata.name}"))
    return CheckResult.summarized(CID, findings, f"{len(pools)} GPU pool(s) can scale")
