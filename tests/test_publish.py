"""Where a run's answer goes besides the report directory: the summary ConfigMap's content and
size bound, and the Pushgateway push as Prometheus receives it (a loopback HTTP server)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from gpucheck import report
from gpucheck.config import SettingsError, resolve
from gpucheck.model import CheckResult, Finding, Status
from gpucheck.report import publish, pushgateway


def _huge_report(nodes: int = 5000) -> report.Report:
    """Every check with a finding per node and summaries that name every node."""
    from gpucheck import catalog

    results = []
    for cid in catalog.checks():
        findings = [Finding(Status.FAIL, f"node gpu-node-{i:05d} of pool p5.48xlarge is broken in a long way",
                            f"Node/gpu-node-{i:05d}", {"i": i, "labels": {"a": "b" * 40}}) for i in range(nodes)]
        summary = "; ".join(f.message for f in findings)
        results.append(CheckResult(cid, Status.FAIL, tuple(findings), summary))
    return report.build(results, "major", cluster={"server": "https://10.0.0.1:6443"}, settings={"profile": "full"})


def test_summary_of_a_5000_node_report_stays_far_below_the_configmap_limit():
    rep = _huge_report()
    body = publish.configmap(rep, "abcd1234")
    size = len(json.dumps(body).encode())
    assert size < publish.MAX_BYTES < 1024 * 1024
    data = json.loads(body["data"][publish.SUMMARY_KEY])
    assert data["verdict"] == "NOT_READY" and data["score"] == rep.score and data["counts"] == rep.counts
    assert {c["id"] for c in data["checks"]} == {c.id for c in rep.checks}
    assert all(set(c) == {"id", "severity", "status", "summary"} for c in data["checks"])
    assert all(len(c["summary"]) <= publish.MAX_TEXT for c in data["checks"])
    assert body["metadata"]["name"] == "gpucheck-report-abcd1234"
    labels = body["metadata"]["labels"]
    assert labels["gpucheck.dev/report"] == "summary" and labels["app.kubernetes.io/managed-by"] == "gpucheck"


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, str]] = []
    status = 200

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).requests.append((self.command, self.path, self.rfile.read(length).decode()))
        self.send_response(type(self).status)
        self.end_headers()

    do_PUT = do_POST = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway():
    _Recorder.requests = []
    _Recorder.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder
    finally:
        server.shutdown()
        server.server_close()


def _small_report() -> report.Report:
    results = [CheckResult("GPU-INV-001", Status.PASS, (), "7 GPU nodes"),
               CheckResult("GPU-DP-002", Status.FAIL, (Finding(Status.FAIL, "not ready", "Node/x"),), "1 not ready"),
               CheckResult("GPU-RT-001", Status.WARN, (), "no nvidia RuntimeClass")]
    return report.build(results, "major")


def test_push_sends_the_documented_metrics(gateway):
    url, rec = gateway
    rep = _small_report()
    pushgateway.push(url, rep, "prod-gpu")
    (method, path, body), = rec.requests
    assert method == "PUT" and path == "/metrics/job/gpucheck/cluster/prod-gpu"
    lines = [line for line in body.splitlines() if line and not line.startswith("#")]
    assert 'gpucheck_verdict{verdict="NOT_READY"} 1.0' in lines
    assert 'gpucheck_verdict{verdict="READY"} 0.0' in lines
    assert f"gpucheck_score {float(rep.score)}" in lines
    assert 'gpucheck_check_status{check="GPU-DP-002",severity="critical",status="FAIL"} 1.0' in lines
    assert 'gpucheck_check_status{check="GPU-DP-002",severity="critical",status="PASS"} 0.0' in lines
    assert 'gpucheck_check_status{check="GPU-RT-001",severity="minor",status="WARN"} 1.0' in lines
    assert any(line.startswith("gpucheck_last_run_timestamp_seconds ") for line in lines)
    names = {line.split("{")[0].split(" ")[0] for line in lines}
    assert names == {"gpucheck_verdict", "gpucheck_score", "gpucheck_check_status",
                     "gpucheck_last_run_timestamp_seconds"}


def test_a_refused_push_is_a_push_error_naming_the_gateway(gateway):
    url, rec = gateway
    rec.status = 500
    with pytest.raises(pushgateway.PushError, match=f"Pushgateway at {url} answered 500"):
        pushgateway.push(url, _small_report(), "c")
    with pytest.raises(pushgateway.PushError, match="cannot push to the Pushgateway at http://127.0.0.1:9"):
        pushgateway.push("http://127.0.0.1:9", _small_report(), "c", timeout=5)


@pytest.mark.parametrize("cli,needle", [
    ({"publish_configmap": "Not_A_NS"}, "--gpucheck-publish-configmap: 'Not_A_NS' is not a valid namespace name"),
    ({"keep_reports": "0"}, "--gpucheck-keep-reports: keep at least 1 report"),
    ({"keep_reports": "many"}, "--gpucheck-keep-reports: 'many' is not a whole number"),
    ({"pushgateway": "pushgateway:9091"}, "--gpucheck-pushgateway: 'pushgateway:9091' is not an http(s) URL"),
])
def test_bad_publish_settings_name_their_option(cli, needle):
    with pytest.raises(SettingsError) as err:
        resolve(cli=cli, env={})
    assert needle in str(err.value)


def test_publish_settings_from_env_and_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("publishConfigMap: audit\nkeepReports: 3\nclusterName: prod\n")
    s = resolve(cli={"config_file": str(f)}, env={"GPUCHECK_PUSHGATEWAY": "http://pg:9091"})
    assert (s.publish_configmap, s.keep_reports, s.cluster_name, s.pushgateway) == ("audit", 3, "prod", "http://pg:9091")
