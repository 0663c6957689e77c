"""GPU-GATE-001: no regression against the baseline. Pure: the baseline, this run's snapshot,
settings and the other checks' results in; one CheckResult out.

Each change becomes a finding with evidence {kind, before, after, regression, allowed}:
FAIL for a regression, WARN for a change a person should review (a taint added, a check that
no longer decides, another API server), PASS for the rest (allowed changes, GPUs or nodes
added, checks improved). With no change at all the one finding says so.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from gpucheck import catalog
from gpucheck.baseline import diff, fingerprint
from gpucheck.baseline.store import Baseline
from gpucheck.config import Settings
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status

CHECK_ID = "GPU-GATE-001"
READS = fingerprint.READS
_SHOWN = 3  # regressions named in the summary


def _why_not_run(settings: Settings, baseline: Baseline) -> Callable[[str], str]:
    def why(cid: str) -> str:
        if cid in settings.skip:
            return " (skipped in this run)"
        if settings.select and cid not in settings.select:
            return " (not selected in this run)"
        check = catalog.checks().get(cid)
        if check is None:
            return " (this gpucheck has no such check)"
        if not check.runs_in(settings.profile):
            return f" (this run's profile is {settings.profile}; the baseline's was {baseline.profile})"
        return ""

    return why


def _finding(c: diff.Change) -> Finding:
    status = Status.FAIL if c.regression else Status.WARN if c.review else Status.PASS
    return Finding(status, c.message, c.object, {"kind": c.kind, "before": c.before, "after": c.after,
                                                 "regression": c.regression, "allowed": c.allowed})


def changes(baseline: Baseline, snap: Snapshot, settings: Settings, results: Iterable[CheckResult],
            server: str | None) -> list[diff.Change]:
    now = {r.id: {"status": r.status.value, "summary": r.summary} for r in results if r.id != CHECK_ID}
    before = {cid: c for cid, c in baseline.checks.items() if cid != CHECK_ID}
    return diff.ordered([
        *diff.cluster(baseline.server, server),
        *diff.fingerprints(baseline.fingerprint, fingerprint.take(snap, settings), settings.allow),
        *diff.checks(before, now, _why_not_run(settings, baseline)),
    ])


def evaluate(baseline: Baseline, snap: Snapshot, settings: Settings, results: Iterable[CheckResult],
             server: str | None) -> CheckResult:
    """Decide the gate. The snapshot's nodes and DaemonSets must have been read (READS)."""
    started = time.monotonic()
    found = changes(baseline, snap, settings, results, server)
    since = f"the baseline of {baseline.created_at}"
    if not found:
        return CheckResult.of(CHECK_ID, [Finding(Status.PASS, f"no change since {since}", "Cluster",
                                                 {"baseline": settings.baseline, "created_at": baseline.created_at})],
                              f"no change since {since}", time.monotonic() - started)
    bad = [c for c in found if c.regression]
    allowed = sum(c.allowed for c in found)
    if bad:
        named = "; ".join(c.message for c in bad[:_SHOWN]) + (f"; and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN
                                                              else "")
        summary = f"{len(bad)} regression(s) since {since}: {named}"
    else:
        summary = f"no regression since {since} ({len(found)} change(s) listed" + \
            (f", {allowed} allowed by --allow)" if allowed else ")")
    return CheckResult.of(CHECK_ID, [_finding(c) for c in found], summary, time.monotonic() - started)
