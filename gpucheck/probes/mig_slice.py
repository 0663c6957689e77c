"""GPU-MIG-004: a pod asking for one MIG slice sees exactly one MIG device of that profile."""

from __future__ import annotations

from typing import Any

from gpucheck import smi
from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.model import CheckResult, Finding, Status
from gpucheck.probes import specs, targets
from gpucheck.probes.runner import ProbeRun

LIST = ["nvidia-smi", "-L"]


def jobs(nodes: list[Any], settings: Settings, labels: dict[str, str]) -> list[tuple[str, str, dict]]:
    out = []
    for g in targets.pool_targets(nodes):
        strategy = g.labels.get("nvidia.com/mig.strategy")
        alloc = gpu_nodes.gpu_resources(g.node.status.allocatable)
        if strategy == "mixed":
            resources = sorted((k for k, v in alloc.items() if k.startswith("nvidia.com/mig-") and v > 0),
                               key=targets.slice_size)
        elif strategy == "single" and alloc.get("nvidia.com/gpu", 0) > 0:
            resources = ["nvidia.com/gpu"]
        else:
            continue
        for res in resources:
            body = specs.probe_pod(kind="mig", node=g.node, settings=settings, labels=labels, command=LIST,
                                   limits={res: "1"})
            body["metadata"]["annotations"] = {"gpucheck.dev/resource": res}
            out.append((g.name, g.pool, body))
    return out


def expected_profile(resource: str, labels: dict[str, str]) -> str:
    if resource.startswith("nvidia.com/mig-"):
        return resource[len("nvidia.com/mig-"):]
    product = labels.get("nvidia.com/gpu.product", "")
    return product.split("-MIG-")[-1] if "-MIG-" in product else ""


def slices(runs: list[ProbeRun], resources: list[str], nodes: dict[str, Any]) -> CheckResult:
    if not runs:
        return CheckResult.skip("GPU-MIG-004", "no Ready node advertises MIG slices")
    findings = []
    for r, res in zip(runs, resources):
        o = r.outcome
        obj = f"Node/{r.target}"
        if r.error is not None or o is None:
            findings.append(Finding(Status.ERROR, f"{r.target} {res}: {r.error}", obj))
            continue
        if not o.succeeded:
            findings.append(Finding(Status.FAIL, f"{r.target} {res}: the slice pod did not succeed "
                                    f"({o.reason}: {o.message})", obj, {"pod": o.name}))
            continue
        want = expected_profile(res, dict(nodes[r.target].metadata.labels or {}) if r.target in nodes else {})
        try:
            rep = smi.parse(o.log)
        except smi.SmiParseError as exc:
            findings.append(Finding(Status.FAIL, f"{r.target} {res}: {exc}", obj))
            continue
        migs = [m for g in rep.gpus for m in g.mig_devices]
        profiles = [m.profile for m in migs]
        if len(migs) == 1 and (not want or profiles[0] == want):
            findings.append(Finding(Status.PASS, f"{r.target}: {res} -> one {profiles[0]} device", obj,
                                    {"uuid": migs[0].uuid}))
        else:
            findings.append(Finding(Status.FAIL, f"{r.target}: asked for {res}, sees {len(migs)} MIG device(s) "
                                    f"{profiles}", obj, {"expected": want, "seen": profiles}))
    return CheckResult.summarized("GPU-MIG-004", findings, f"{len(findings)} MIG slice pod(s) saw exactly their slice")
