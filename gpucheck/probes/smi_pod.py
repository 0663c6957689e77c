"""GPU-SMI-001/002/003: an nvidia-smi pod per pool, through the path a KPO task takes.

One pod per pool (or per node with probes.allNodes) asks for one GPU, or the smallest MIG
slice on a mixed-strategy node, and runs `nvidia-smi -q`. Its output is parsed and graded:
it ran and shows exactly one GPU (001), its driver is the node's labelled driver and meets
the minimum (002), and the GPU has no uncorrected ECC errors, pending retirements or remaps
(003).
"""

from __future__ import annotations

from typing import Any

from gpucheck import smi
from gpucheck.config import Settings, driver_tuple
from gpucheck.inventory.drivers import driver_of
from gpucheck.model import CheckResult, Finding, Status
from gpucheck.probes import specs, targets
from gpucheck.probes.runner import ProbeRun

COMMAND = ["nvidia-smi", "-q"]


def jobs(nodes: list[Any], settings: Settings, labels: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for g in targets.pool_targets(nodes, settings.probe_all_nodes):
        limits = targets.gpu_request(g)
        if limits is None:
            continue
        body = specs.probe_pod(kind="smi", node=g.node, settings=settings, labels=labels, command=COMMAND,
                               limits=limits)
        out.append((g.name, g.pool, body))
    return out


def parse(outcome: Any) -> Any:
    """The parsed report, or the parse error's text."""
    if outcome.log.strip() == "":
        return None
    try:
        return smi.parse(outcome.log)
    except smi.SmiParseError as exc:
        return str(exc)


def _obj(run: ProbeRun) -> str:
    return f"Node/{run.target}"


def ran(runs: list[ProbeRun]) -> CheckResult:
    if not runs:
        return CheckResult.skip("GPU-SMI-001", "no Ready GPU node to probe")
    findings = []
    for r in runs:
        o = r.outcome
        if r.error is not None:
            findings.append(Finding(Status.ERROR, f"{r.target}: {r.error}", _obj(r)))
            continue
        assert o is not None
        ev = {"pod": o.name, "phase": o.phase, "reason": o.reason, "times_s": o.times, "exit_code": o.exit_code}
        rep = r.extra
        if o.reason in ("Unschedulable", "ScheduleTimeout"):
            findings.append(Finding(Status.FAIL, f"{r.target}: the nvidia-smi pod did not schedule: "
                                    f"{o.message or o.reason}", _obj(r), ev))
        elif o.phase not in ("Succeeded", "Failed"):
            findings.append(Finding(Status.FAIL, f"{r.target}: the nvidia-smi pod never ran ({o.reason}: "
                                    f"{o.message})", _obj(r), ev))
        elif rep is not None and not isinstance(rep, str) and rep.failure is not None:
            findings.append(Finding(Status.FAIL, f"{r.target}: nvidia-smi failed ({rep.failure.kind}): "
                                    f"{rep.failure.message}", _obj(r), {**ev, "output": o.log[-500:]}))
        elif rep is None or isinstance(rep, str):
            findings.append(Finding(Status.FAIL, f"{r.target}: nvidia-smi output could not be read: "
                                    f"{rep or 'empty log'}", _obj(r), {**ev, "output": o.log[-500:]}))
        elif o.phase == "Failed":
            findings.append(Finding(Status.FAIL, f"{r.target}: the nvidia-smi pod failed (exit {o.exit_code})",
                                    _obj(r), ev))
        elif len(rep.gpus) != 1:
            findings.append(Finding(Status.FAIL, f"{r.target}: the pod asked for one GPU and sees "
                                    f"{len(rep.gpus)}", _obj(r), {**ev, "gpus": [g.uuid for g in rep.gpus]}))
        else:
            g = rep.gpus[0]
            findings.append(Finding(Status.PASS, f"{r.target}: {g.name} {g.uuid}, create to finish "
                                    f"{o.total_s:.1f}s", _obj(r), {**ev, "gpu": g.name, "uuid": g.uuid}))
    slowest = max((r.outcome.total_s or 0 for r in runs if r.outcome and r.outcome.total_s), default=0)
    return CheckResult.summarized("GPU-SMI-001", findings,
                                  f"nvidia-smi ran on {len(runs)} pool(s); slowest create-to-finish {slowest:.1f}s")


def _good(runs: list[ProbeRun]) -> list[tuple[ProbeRun, Any]]:
    return [(r, r.extra) for r in runs if r.outcome is not None and r.extra is not None
            and not isinstance(r.extra, str) and r.extra.failure is None and r.extra.gpus]


def driver(runs: list[ProbeRun], nodes: dict[str, Any], settings: Settings) -> CheckResult:
    good = _good(runs)
    if not good:
        return CheckResult.skip("GPU-SMI-002", "no nvidia-smi output to compare (see GPU-SMI-001)")
    findings = []
    want_min = driver_tuple(settings.min_driver) if settings.min_driver else None
    for r, rep in good:
        labels = dict(nodes[r.target].metadata.labels or {}) if r.target in nodes else {}
        label = driver_of(labels)
        seen = rep.driver_version or "?"
        ev = {"nvidia-smi": seen, "label": label}
        if label and seen != label:
            findings.append(Finding(Status.FAIL, f"{r.target}: nvidia-smi reports driver {seen}, the node label "
                                    f"says {label}", f"Node/{r.target}", ev))
        elif want_min and (driver_tuple(seen) or ()) < want_min:
            findings.append(Finding(Status.FAIL, f"{r.target}: driver {seen} is below {settings.min_driver}",
                                    f"Node/{r.target}", ev))
        else:
            findings.append(Finding(Status.PASS, f"{r.target}: driver {seen}"
                                    + (" matches its label" if label else ""), f"Node/{r.target}", ev))
    return CheckResult.summarized("GPU-SMI-002", findings, "nvidia-smi drivers match the node labels")


def health(runs: list[ProbeRun]) -> CheckResult:
    good = _good(runs)
    if not good:
        return CheckResult.skip("GPU-SMI-003", "no nvidia-smi output to read (see GPU-SMI-001)")
    findings = []
    for r, rep in good:
        for g in rep.gpus:
            problems, warnings = [], []
            ecc, pages, rows = g.ecc_errors, g.retired_pages, g.remapped_rows
            if ecc and (ecc.volatile_uncorrected or 0) > 0:
                problems.append(f"{ecc.volatile_uncorrected} volatile uncorrected ECC errors")
            if ecc and (ecc.aggregate_uncorrected or 0) > 0:
                warnings.append(f"{ecc.aggregate_uncorrected} aggregate uncorrected ECC errors")
            if pages and pages.pending:
                problems.append("page retirement pending (reset the GPU)")
            if rows and rows.failure:
                problems.append("row remapping failed (replace the GPU)")
            if rows and rows.pending:
                problems.append("row remapping pending (reset the GPU)")
            ev = {"uuid": g.uuid, "ecc_mode": g.ecc_mode}
            if problems:
                findings.append(Finding(Status.FAIL, f"{r.target} {g.uuid}: " + ", ".join(problems), f"Node/{r.target}", ev))
            elif warnings:
                findings.append(Finding(Status.WARN, f"{r.target} {g.uuid}: " + ", ".join(warnings), f"Node/{r.target}", ev))
            else:
                findings.append(Finding(Status.PASS, f"{r.target} {g.uuid}: no ECC, retirement or remap problems",
                                        f"Node/{r.target}", ev))
    return CheckResult.summarized("GPU-SMI-003", findings, f"memory health clean on {len(findings)} probed GPU(s)")
