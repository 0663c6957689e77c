"""GPU-START-001: the probe pods' create-to-running time (scheduling and image pull included)
against the KubernetesPodOperator startup timeout the team uses (training.startupTimeout):
WARN above three quarters of it, FAIL over it."""

from __future__ import annotations

from typing import Any

from gpucheck.model import CheckResult, Finding, Status
from gpucheck.probes.runner import ProbeRun

CID = "GPU-START-001"
WARN_AT = 0.75


def budget(runs: list[ProbeRun], settings: Any) -> CheckResult:
    limit = settings.training.startupTimeout
    started = [r for r in runs if r.outcome is not None and "running" in r.outcome.times]
    if not started:
        return CheckResult.skip(CID, "no probe pod started (see GPU-SMI-001)")
    findings = []
    for r in started:
        t = r.outcome.times["running"]
        obj = f"Node/{r.target}"
        text = f"{r.target} (pool {r.pool}): create to running {t:.1f}s, KPO startup timeout {limit:g}s"
        if t > limit:
            findings.append(Finding(Status.FAIL, f"{text}: a task would time out before its container starts",
                                    obj, {"running_s": t}))
        elif t > WARN_AT * limit:
            findings.append(Finding(Status.WARN, f"{text}: within {100 * (1 - t / limit):.0f}% of the timeout",
                                    obj, {"running_s": t}))
        else:
            findings.append(Finding(Status.PASS, text, obj, {"running_s": t}))
    slowest = max(r.outcome.times["running"] for r in started)
    return CheckResult.summarized(CID, findings,
                                  f"slowest start {slowest:.1f}s of a {limit:g}s budget on {len(started)} pool(s)")
