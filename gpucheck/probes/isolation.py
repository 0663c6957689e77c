"""GPU-ISO-001/002/003: taints keep GPU-less pods off, no GPU leaks into a pod that asked for
none, and two pods on one node get different GPUs."""

from __future__ import annotations

from typing import Any

from gpucheck import smi
from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.model import CheckResult, Finding, Status
from gpucheck.probes import specs, targets
from gpucheck.probes.runner import ProbeRun

LIST = ["nvidia-smi", "-L"]
# Long enough that both pods of GPU-ISO-003 hold their GPU at the same time on a real node.
LIST_AND_HOLD = ["sh", "-c", "nvidia-smi -L; sleep 10"]


def untolerated_jobs(nodes: list[Any], settings: Settings, labels: dict[str, str]) -> list[tuple[str, str, dict]]:
    return [(g.name, g.pool, specs.probe_pod(kind="iso-taint", node=g.node, settings=settings, labels=labels,
                                             command=["true"], tolerate=False))
            for g in targets.pool_targets(nodes)]


def no_request_jobs(nodes: list[Any], settings: Settings, labels: dict[str, str]) -> list[tuple[str, str, dict]]:
    return [(g.name, g.pool, specs.probe_pod(kind="iso-nogpu", node=g.node, settings=settings, labels=labels,
                                             command=LIST))
            for g in targets.pool_targets(nodes)]


def pair_jobs(nodes: list[Any], settings: Settings, labels: dict[str, str]) -> list[tuple[str, str, dict]]:
    for g in targets.pool_targets(nodes):
        if gpu_nodes.gpu_resources(g.node.status.allocatable).get("nvidia.com/gpu", 0) >= 2 \
                and g.labels.get("nvidia.com/mig.strategy") != "mixed":
            return [(g.name, g.pool, specs.probe_pod(kind=f"iso-pair{i}", node=g.node, settings=settings,
                                                     labels=labels, command=LIST_AND_HOLD,
                                                     limits={"nvidia.com/gpu": "1"})) for i in (1, 2)]
    return []


def kept_off(runs: list[ProbeRun]) -> CheckResult:
    if not runs:
        return CheckResult.skip("GPU-ISO-001", "no Ready GPU node to probe")
    findings = []
    for r in runs:
        o = r.outcome
        if r.error is not None or o is None:
            findings.append(Finding(Status.ERROR, f"{r.target}: {r.error}", f"Node/{r.target}"))
        elif o.reason == "Unschedulable" and "untolerated taint" in o.message:
            findings.append(Finding(Status.PASS, f"{r.target}: a pod without tolerations is refused "
                                    f"({o.message.split('.')[0]})", f"Node/{r.target}"))
        elif o.times.get("scheduled") is not None or o.node:
            findings.append(Finding(Status.FAIL, f"{r.target}: a pod with no GPU toleration was scheduled onto "
                                    "this GPU node", f"Node/{r.target}", {"pod": o.name, "phase": o.phase}))
        else:
            findings.append(Finding(Status.FAIL, f"{r.target}: the pod stayed Pending for another reason: "
                                    f"{o.message or o.reason}", f"Node/{r.target}", {"reason": o.reason}))
    return CheckResult.summarized("GPU-ISO-001", findings,
                                  f"GPU taints refused untolerating pods on {len(runs)} pool(s)")


def no_leak(runs: list[ProbeRun]) -> CheckResult:
    if not runs:
        return CheckResult.skip("GPU-ISO-002", "no Ready GPU node to probe")
    findings = []
    for r in runs:
        o = r.outcome
        if r.error is not None or o is None:
            findings.append(Finding(Status.ERROR, f"{r.target}: {r.error}", f"Node/{r.target}"))
            continue
        if o.phase not in ("Succeeded", "Failed"):
            findings.append(Finding(Status.ERROR, f"{r.target}: the probe never ran ({o.reason}: {o.message})",
                                    f"Node/{r.target}", {"pod": o.name}))
            continue
        try:
            rep = smi.parse(o.log)
        except smi.SmiParseError:
            rep = None
        if rep is not None and rep.failure is None and rep.gpus:
            findings.append(Finding(Status.FAIL, f"{r.target}: a pod that requested no GPU sees {len(rep.gpus)} "
                                    "GPU(s)", f"Node/{r.target}", {"gpus": [g.uuid for g in rep.gpus]}))
        else:
            findings.append(Finding(Status.PASS, f"{r.target}: a pod without a GPU request sees no GPU",
                                    f"Node/{r.target}", {"output": o.log.strip()[:200]}))
    return CheckResult.summarized("GPU-ISO-002", findings, f"no GPU visible without a request on {len(runs)} pool(s)")


def distinct(runs: list[ProbeRun]) -> CheckResult:
    if not runs:
        return CheckResult.skip("GPU-ISO-003", "no Ready node with two or more whole GPUs")
    uuids: list[str] = []
    for r in runs:
        o = r.outcome
        if r.error is not None or o is None or not o.succeeded:
            why = r.error or (f"{o.reason}: {o.message}" if o else "no outcome")
            return CheckResult.of("GPU-ISO-003", [Finding(Status.ERROR, f"{r.target}: a probe pod did not "
                                                          f"finish: {why}", f"Node/{r.target}")], str(why))
        try:
            rep = smi.parse(o.log)
            uuids += [g.uuid for g in rep.gpus if g.uuid]
        except smi.SmiParseError as exc:
            return CheckResult.of("GPU-ISO-003", [Finding(Status.FAIL, f"{r.target}: {exc}", f"Node/{r.target}")],
                                  str(exc))
    node = runs[0].target
    if len(uuids) == 2 and uuids[0] != uuids[1]:
        return CheckResult.of("GPU-ISO-003", [Finding(Status.PASS, f"{node}: two pods got {uuids[0]} and "
                                                      f"{uuids[1]}", f"Node/{node}", {"uuids": uuids})],
                              "concurrent pods got different GPUs")
    return CheckResult.of("GPU-ISO-003", [Finding(Status.FAIL, f"{node}: two concurrent one-GPU pods saw "
                                                  f"{uuids}", f"Node/{node}", {"uuids": uuids})],
                          "two pods shared a GPU or saw the wrong number")
