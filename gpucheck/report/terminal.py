"""The summary that ends a pytest run or `gpucheck run`."""

from __future__ import annotations

from gpucheck.report.model import Report

MAX_CHANGES = 40  # changes listed here; the report files list them all


def lines(report: Report, paths: dict[str, str] | None = None) -> list[str]:
    out = []
    width = max((len(c.id) for c in report.checks), default=10)
    for c in report.checks:
        out.append(f"{c.status:<5}  {c.id:<{width}}  {c.severity:<8}  {c.summary}")
        if c.status in ("FAIL", "ERROR"):
            out.append(f"{'':<5}  {'':<{width}}  fix: {c.remediation}")
    out.append("")
    out += changes(report)
    for r in report.reasons:
        out.append(f"not ready: {r}")
    counts = ", ".join(f"{v} {k.lower()}" for k, v in report.counts.items() if v)
    out.append(f"gpucheck verdict: {report.verdict}  score {report.score}/100  ({counts})")
    if paths:
        out.append("report: " + "  ".join(paths.values()))
    return out


def changes(report: Report) -> list[str]:
    """The changes since the baseline of a gated run, regressions first."""
    found = report.changes()
    if not found:
        return []
    out = [f"changes since baseline {report.changes_intro()}"]
    width = max(len(c["kind"]) for c in found)
    for c in found[:MAX_CHANGES]:
        out.append(f"  {c['label'].upper() if c['label'] == 'regression' else c['label']:<10}  "
                   f"{c['kind']:<{width}}  {c['message']}")
    if len(found) > MAX_CHANGES:
        out.append(f"  ... and {len(found) - MAX_CHANGES} more in report.md")
    return out + [""]
