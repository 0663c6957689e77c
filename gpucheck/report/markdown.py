"""Markdown for pull-request comments and CI job summaries."""

from __future__ import annotations

from gpucheck.report.model import Report

ICON = {"PASS": "✅", "WARN": "⚠️", "FAIL": "❌", "SKIP": "⏭️", "ERROR": "💥"}
VERDICT = {"READY": "✅ READY", "READY_WITH_WARNINGS": "⚠️ READY WITH WARNINGS", "NOT_READY": "❌ NOT READY"}


def _cell(text: str) -> str:
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
    lines += ["| | check | severity | result |", "|---|---|---|---|"]
    for c in report.checks:
        lines.append(f"| {ICON.get(c.status, c.status)} {c.status} | `{c.id}` {_cell(c.title)} | {c.severity} | "
                     f"{_cell(c.summary)} |")
    failing = [c for c in report.checks if c.status in ("FAIL", "ERROR", "WARN")]
    if failing:
        lines += ["", "### What to fix", ""]
        for c in failing:
            lines.append(f"<details><summary>{ICON[c.status]} <code>{c.id}</code> {_cell(c.title)}</summary>\n")
            for f in c.findings:
                if f["status"] != "PASS":
                    lines.append(f"- `{_cell(f['object'])}`: {_cell(f['message'])}")
            lines += ["", f"**Remediation:** {_cell(c.remediation)} ([docs]({c.doc}))", "", "</details>", ""]
    cats = ", ".join(f"{c['category']} {c['grade']}" for c in report.categories)
    lines += ["", f"Grades: {cats}" if cats else ""]
    return "\n".join(lines).rstrip() + "\n"
