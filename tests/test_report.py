"""One report model, four renderers; every one of them safe with hostile cluster strings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema

from gpucheck import report
from gpucheck.model import CheckResult, Finding, Status

EVIL = '<script>alert("node")</script>'


def sample() -> report.Report:
    return report.build([
        CheckResult.of("GPU-DP-001", [Finding(Status.PASS, "plugin v0.17.1", "DaemonSet/kube-system/dp")], "ok"),
        CheckResult.of("GPU-TAINT-001", [Finding(Status.FAIL, f"{EVIL} has no taint", f"Node/{EVIL}",
                                                 {"label": EVIL})], f"1 node untainted: {EVIL}"),
        CheckResult.of("GPU-RT-001", [Finding(Status.WARN, "no RuntimeClass", "Cluster")], "no nvidia RuntimeClass"),
        CheckResult.skip("GPU-DRV-002", "no minimum configured"),
    ], "major", cluster={"server": "https://127.0.0.1:6443"}, settings={"profile": "quick"})


def test_json_validates_against_the_published_schema():
    data = json.loads(report.render(sample(), "json"))
    jsonschema.validate(data, report.schema())
    assert data["verdict"] == "NOT_READY" and 0 <= data["score"] <= 100
    assert {c["id"]: c["status"] for c in data["checks"]}["GPU-TAINT-001"] == "FAIL"


def test_json_round_trips():
    r = sample()
    again = report.Report.from_json(json.loads(report.render(r, "json")))
    assert report.render(again, "md") == report.render(r, "md")


def test_junit_fail_carries_remediation_and_warn_is_skipped():
    root = ET.fromstring(report.render(sample(), "junit"))
    cases = {c.get("name").split()[0]: c for c in root.iter("testcase")}
    failure = cases["GPU-TAINT-001"].find("failure")
    assert failure is not None and "Remediation:" in failure.text and "kubectl taint" in failure.text
    assert cases["GPU-RT-001"].find("skipped").get("message").startswith("WARN")
    assert "evidence" in cases["GPU-TAINT-001"].find("system-out").text


def test_html_escapes_cluster_strings_and_needs_no_network():
    html = report.render(sample(), "html")
    assert EVIL not in html and "&lt;script&gt;" in html
    assert "http://" not in html.split("<body>")[0] and "<script" not in html
    assert 'id="verdict"' in html and "NOT READY" in html


def test_markdown_leads_with_verdict_and_lists_fixes():
    md = report.render(sample(), "md")
    assert md.startswith("## GPU readiness: ❌ NOT READY (score")
    assert "### What to fix" in md and "<script>" not in md


def test_cli_renders_a_saved_report_and_rejects_a_foreign_file(tmp_path):
    import subprocess
    import sys

    rep = sample()
    saved = tmp_path / "report.json"
    saved.write_text(report.render(rep, "json"))
    res = subprocess.run([sys.executable, "-m", "gpucheck", "report", "render", str(saved), "--format", "md"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout == report.render(rep, "md")
    foreign = tmp_path / "other.json"
    foreign.write_text('{"verdict": "READY"}')
    res = subprocess.run([sys.executable, "-m", "gpucheck", "report", "render", str(foreign), "--format", "html"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 4 and "is not a gpucheck report" in res.stderr and "Traceback" not in res.stderr


def test_cli_lists_the_catalog():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "gpucheck", "checks", "--json"], capture_output=True, text=True,
                         timeout=60)
    ids = [c["id"] for c in json.loads(res.stdout)]
    assert "GPU-DP-001" in ids and len(ids) == len(set(ids))
