"""JUnit XML: one testcase per check. FAIL carries the remediation, WARN is skipped with its
message (as kube-bench does), evidence goes to system-out."""

from __future__ import annotations

import json

from junit_xml import TestCase, TestSuite, to_xml_report_string

from gpucheck.report.model import Report


def render(report: Report) -> str:
    cases = []
    for c in report.checks:
        out = "\n".join(f"[{f['status']}] {f['object']}: {f['message']}"
                        + (f"\n    evidence: {json.dumps(f['evidence'], sort_keys=True)}" if f.get("evidence") else "")
                        for f in c.findings)
        case = TestCase(name=f"{c.id} {c.title}", classname=f"gpucheck.{c.category}",
                        elapsed_sec=c.duration_s, stdout=out or None)
        if c.status == "FAIL":
            case.add_failure_info(message=f"{c.severity}: {c.summary}",
                                  output=f"{c.summary}\n\nRemediation: {c.remediation}\nSee {c.doc}")
        elif c.status == "ERROR":
            case.add_error_info(message=c.summary, output=c.summary)
        elif c.status in ("WARN", "SKIP"):
            case.add_skipped_info(message=f"{c.status}: {c.summary}")
        cases.append(case)
    suite = TestSuite(f"gpucheck {report.verdict} score={report.score}", cases,
                      properties={"verdict": report.verdict, "score": str(report.score)})
    return to_xml_report_string([suite], encoding="utf-8")
