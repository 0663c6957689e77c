"""Markdown for pull-request comments and CI job summaries."""

from __future__ import annotations

from gpucheck.report.model import GATE_CHECK, Report

ICON = {"PASS": "✅", "WARN": "⚠️", "FAIL": "❌", "SKIP": "⏭️", "ERROR": "💥"}
CHANGE_ICON = {"regression": "❌", "review": "⚠️", "allowed": "✅", "change": "ℹ️"}
VERDICT = {"READY": "✅ READY", "READY_WITH_WARNINGS": "⚠️ READY WITH WARNINGS", "NOT_READY": "❌ NOT READY"}


def _cell(text: str) -> str:
    # "8 -> 7" would come out as "8 -&gt; 7" in the raw file, which CI logs show as it is.
    text = text.replace(" -> ", " → ")
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def render(report: Report) -> str:
    lines = [f"## GPU readiness: {VERDICT.get(report.verdict, report.verdict)} (score {report.score}/100)", ""]
    server = report.cluster.get("server")
    if server:
        lines += [f"Cluster `{_cell(str(server))}`, profile `{report.settings.get('profile', '?')}`, "
                  f"fail-on `{report.settings.get('fail_on')}`, gpucheck {report.gpucheck_version}, "
                  f"{report.generated_at}.", ""]
    if report.reasons:
        lines += ["**Why not ready:**", ""] + [f"- {_cell(r)}" for r in report.reasons] + [""]
    lines += _changes(report)
    lines += ["| | check | severity | result |", "|---|---|---|---|"]
    for c in report.checks:
        lines.append(f"| {ICON.get(c.status, c.status)} {c.status} | `{c.id}` {_cell(c.title)} | {c.severity} | "
                     f"{_cell(c.summary)} |")
    failing = [c for c in report.checks if c.status in ("FAIL", "ERROR", "WARN")]
    if failing:
        lines += ["", "### What to fix", ""]
        for c in failing:
            lines.append(f"<details><summary>{ICON[c.status]} <code>{c.id}</code> {_cell(c.title)}</summary>\n")
            if c.id == GATE_CHECK and report.changes():
                lines.append("- see **Changes since baseline** above")
            else:
                lines += [f"- `{_cell(f['object'])}`: {_cell(f['message'])}" for f in c.findings
                          if f["status"] != "PASS"]
            lines += ["", f"**Remediation:** {_cell(c.remediation)} ([docs]({c.doc}))", "", "</details>", ""]
    cats = ", ".join(f"{c['category']} {c['grade']}" for c in report.categories)
    lines += ["", f"Grades: {cats}" if cats else ""]
    return "\n".join(lines).rstrip() + "\n"


def _changes(report: Report) -> list[str]:
    """The "Changes since baseline" section of a gated run: regressions first."""
    if report.gate() is None:
        return []
    lines = ["### Changes since baseline", "", f"Baseline {_cell(report.changes_intro())}.", ""]
    changes = report.changes()
    if changes:
        lines += ["| | kind | change |", "|---|---|---|"]
        lines += [f"| {CHANGE_ICON[c['label']]} {c['label']} | {c['kind']} | {_cell(c['message'])} |" for c in changes]
        lines.append("")
    return lines
