"""GPU-TAINT-001 (GPU nodes tainted) and GPU-TAINT-002 (no GPU-less pods on GPU nodes)."""

from __future__ import annotations

import re
from typing import Any

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status


def tainted(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = gpu_nodes.find(snap.nodes)
    if not nodes:
        return CheckResult.skip("GPU-TAINT-001", "no GPU nodes (see GPU-INV-001)")
    findings = []
    for g in nodes:
        taints = [t for t in g.node.spec.taints or [] if t.effect in ("NoSchedule", "NoExecute")
                  and t.key in settings.gpu_taint_keys]
        if taints:
            findings.append(Finding(Status.PASS, f"{g.name}: {taints[0].key}={taints[0].value or ''}:{taints[0].effect}",
                                    f"Node/{g.name}"))
        else:
            findings.append(Finding(Status.FAIL, f"{g.name} has no NoSchedule/NoExecute taint with key "
                                    f"{' or '.join(settings.gpu_taint_keys)}", f"Node/{g.name}",
                                    {"taints": [f"{t.key}={t.value or ''}:{t.effect}" for t in g.node.spec.taints or []]}))
    bad = [f for f in findings if f.status == Status.FAIL]
    return CheckResult.of("GPU-TAINT-001", findings,
                          f"{len(bad)} GPU node(s) untainted: " + ", ".join(f.object[5:] for f in bad) if bad
                          else f"all {len(nodes)} GPU nodes tainted")


def _requests_gpu(pod: Any) -> bool:
    for c in list(pod.spec.containers or []) + list(pod.spec.init_containers or []):
        res = c.resources
        for part in (res.limits if res else None, res.requests if res else None):
            if any(k.startswith("nvidia.com/") for k in (part or {})):
                return True
    return False


def _owner(pod: Any) -> str:
    refs = pod.metadata.owner_references or []
    if not refs:
        return "none (a bare pod)"
    o = refs[0]
    if o.kind == "ReplicaSet":
        return f"Deployment/{re.sub(r'-[a-z0-9]{5,10}$', '', o.name)} (via ReplicaSet/{o.name})"
    return f"{o.kind}/{o.name}"


def squatters(snap: Snapshot, settings: Settings) -> CheckResult:
    names = {g.name for g in gpu_nodes.find(snap.nodes)}
    if not names:
        return CheckResult.skip("GPU-TAINT-002", "no GPU nodes (see GPU-INV-001)")
    findings = []
    for p in snap.pods:
        if p.spec.node_name not in names or _requests_gpu(p):
            continue
        if any(o.kind == "DaemonSet" for o in p.metadata.owner_references or []):
            continue
        if (p.metadata.annotations or {}).get("kubernetes.io/config.mirror"):
            continue
        if (p.metadata.labels or {}).get("app.kubernetes.io/managed-by") == "gpucheck":
            continue
        findings.append(Finding(Status.FAIL, f"{p.metadata.namespace}/{p.metadata.name} on {p.spec.node_name} "
                                f"requests no GPU; owner {_owner(p)}", f"Pod/{p.metadata.namespace}/{p.metadata.name}",
                                {"node": p.spec.node_name, "owner": _owner(p)}))
    if not findings:
        return CheckResult.of("GPU-TAINT-002", [Finding(Status.PASS, f"no GPU-less pods on {len(names)} GPU nodes",
                                                        "Cluster")], "no squatters")
    return CheckResult.of("GPU-TAINT-002", findings, f"{len(findings)} pod(s) without GPU requests on GPU nodes")
