"""The HTML report as a person sees it: opened in headless Chromium (Debian's package)."""

from __future__ import annotations

import shutil

from playwright.sync_api import sync_playwright

from gpucheck import report
from gpucheck.model import CheckResult, Finding, Status

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def test_html_report_renders_the_verdict_without_console_errors(tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is needed (.ci/run installs it)"
    rep = report.build([
        CheckResult.of("GPU-DP-001", [Finding(Status.PASS, "ok", "DaemonSet/kube-system/dp")], "ok"),
        CheckResult.of("GPU-TAINT-001", [Finding(Status.FAIL, "untainted", 'Node/<img src=x onerror="alert(1)">')],
                       "1 node untainted"),
    ], "major", cluster={"server": "https://127.0.0.1:6443"})
    path = tmp_path / "report.html"
    path.write_text(report.render(rep, "html"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request: {r.url}"))
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.goto(path.as_uri())
            assert page.inner_text("#verdict").strip() == "NOT READY"
            assert page.locator("#GPU-TAINT-001").is_visible()
            assert problems == []
        finally:
            browser.close()
