"""Security properties a platform team relies on, proven on the simulated cluster: probe pods
need no privilege (PodSecurity "restricted" enforced where they run), gpucheck never reads a
Secret's contents, credentials never reach a report or a log, and text from the cluster cannot
inject markup into the HTML report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from faultproxy import FaultProxy
from gpucheck import exitcodes
from gpucheck.sim import expectations_file
from test_faults import leftovers

pytestmark = pytest.mark.sim


def _run(kubeconfig: str, tmp_path: Path, *extra: str) -> tuple[int, str, Path]:
    report = tmp_path / "report"
    res = subprocess.run([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={kubeconfig}",
                          f"--config={expectations_file()}", f"--report={report}", *extra],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    return res.returncode, res.stdout + res.stderr, report


def _everything_written(out: str, report: Path) -> str:
    return out + "".join(p.read_text(errors="replace") for p in report.iterdir())


def test_probe_pods_pass_podsecurity_restricted_where_they_run(api, sim, tmp_path):
    """The per-run workspace always enforces restricted; here the training namespace, where
    GPU-SECRET-001 and GPU-STORAGE-002 start their pods, enforces it too."""
    core = client.CoreV1Api(api)
    core.patch_namespace("default", {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    try:
        privileged = {"metadata": {"name": "not-restricted"},
                      "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]}}
        with pytest.raises(client.ApiException) as refused:
            core.create_namespaced_pod("default", privileged)
        assert refused.value.status == 403 and "violates PodSecurity" in refused.value.body
        code, out, report = _run(str(sim.kubeconfig), tmp_path)
    finally:
        core.patch_namespace("default", {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": None}}})
    assert code == exitcodes.READY, out[-3000:]
    checks = {c["id"]: c for c in json.loads((report / "report.json").read_text())["checks"]}
    assert checks["GPU-SECRET-001"]["status"] == checks["GPU-STORAGE-002"]["status"] == "PASS"
    assert leftovers(api) == []


@pytest.fixture
def canary_secret(api):
    """The sim's training Secret holding a recognisable value, restored afterwards."""
    core = client.CoreV1Api(api)
    before = core.read_namespaced_secret("wandb-api-key", "default").data
    canary = "CANARY-secret-value-7f3a9c"
    core.patch_namespaced_secret("wandb-api-key", "default", {"stringData": {"WANDB_API_KEY": canary}})
    try:
        yield canary
    finally:
        core.replace_namespaced_secret("wandb-api-key", "default", {
            "metadata": {"name": "wandb-api-key", "namespace": "default"}, "type": "Opaque", "data": before})


def test_gpucheck_never_receives_a_secrets_contents(api, sim, tmp_path, canary_secret):
    with FaultProxy.for_sim(sim) as proxy:
        code, out, report = _run(str(proxy.kubeconfig(tmp_path / "proxy.kubeconfig")), tmp_path)
        secret_requests = [req for req, _ in proxy.log if "/secrets" in req.path]
    assert code == exitcodes.READY, out[-3000:]
    assert {req.target()[:2] for req in secret_requests} == {("get", "secrets")}  # by name: no list, no watch
    assert len(secret_requests) == 2  # the two Secrets the sim's config names
    for req in secret_requests:
        assert "as=PartialObjectMetadata" in req.headers.get("accept", ""), req.headers
    assert canary_secret not in _everything_written(out, report)


@pytest.fixture
def admin_token(api):
    """A real bearer token (TokenRequest) of a ServiceAccount bound to cluster-admin."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account("default", {"metadata": {"name": "canary-admin"}})
    rbac.create_cluster_role_binding({
        "metadata": {"name": "canary-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "canary-admin", "namespace": "default"}]})
    try:
        tr = core.create_namespaced_service_account_token("canary-admin", "default",
                                                          {"spec": {"expirationSeconds": 3600}})
        yield tr.status.token
    finally:
        rbac.delete_cluster_role_binding("canary-admin")
        core.delete_namespaced_service_account("canary-admin", "default")


def _token_kubeconfig(path: Path, server: str, ca: str, token: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "current-context": "c"}))
    return str(path)


def test_a_bearer_token_never_reaches_a_report_or_a_log(api, sim, tmp_path, admin_token):
    ca = str(Path(sim.dir) / "pki" / "ca.crt")
    good = _token_kubeconfig(tmp_path / "token.kubeconfig", sim.server, ca, admin_token)
    (tmp_path / "ok").mkdir()
    code, out, report = _run(good, tmp_path / "ok", "--profile=standard")
    assert code == exitcodes.READY, out[-3000:]
    assert admin_token not in _everything_written(out, report)
    # The same credentials where nothing answers, and where they are refused: the error paths.
    dead = _token_kubeconfig(tmp_path / "dead.kubeconfig", "https://127.0.0.1:9", ca, admin_token)
    (tmp_path / "dead").mkdir()
    code, out, report = _run(dead, tmp_path / "dead", "--profile=quick")
    assert code == exitcodes.UNREACHABLE
    assert admin_token not in _everything_written(out, report)
    wrong = _token_kubeconfig(tmp_path / "wrong.kubeconfig", sim.server, ca, admin_token[:-8] + "AAAAAAAA")
    (tmp_path / "wrong").mkdir()
    code, out, report = _run(wrong, tmp_path / "wrong", "--profile=quick")
    assert code == exitcodes.UNREACHABLE and "401 Unauthorized" in out
    assert admin_token[:-8] not in _everything_written(out, report)
    assert leftovers(api) == []


HOSTILE = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def test_markup_from_the_cluster_is_escaped_in_every_report(api, sim, tmp_path):
    """Label values cannot carry markup (the API refuses them), but free text can: a node
    condition's message, as node-problem-detector writes it, reaches GPU-HEALTH-001's finding."""
    core = client.CoreV1Api(api)
    node = sorted(n.metadata.name for n in core.list_node(label_selector="sim.gpucheck.io/pool=h100").items)[0]
    with pytest.raises(client.ApiException) as refused:
        core.patch_node(node, {"metadata": {"labels": {"team": "<script>"}}})
    assert refused.value.status == 422
    core.patch_node_status(node, {"status": {"conditions": [{
        "type": "XIDErrors", "status": "True", "reason": "XIDErrorsDetected", "message": HOSTILE,
        "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    try:
        code, out, report = _run(str(sim.kubeconfig), tmp_path, "--profile=quick")
    finally:
        core.patch_node_status(node, {"status": {"conditions": [{"type": "XIDErrors", "$patch": "delete"}]}})
    assert code == exitcodes.NOT_READY
    health = next(c for c in json.loads((report / "report.json").read_text())["checks"] if c["id"] == "GPU-HEALTH-001")
    assert HOSTILE in health["summary"]  # kept as data in the JSON...
    html = (report / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html  # ...but never as markup
    assert "&lt;script&gt;alert" in html
    md = (report / "report.md").read_text()
    assert "<script>" not in md and "<img" not in md
    import xml.etree.ElementTree as ET

    junit = ET.parse(report / "junit.xml")  # well-formed: the text is XML-escaped
    assert any(HOSTILE in (e.text or "") or HOSTILE in (e.get("message") or "") for e in junit.iter())
    _no_script_runs(report / "report.html")


def _no_script_runs(path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from test_report_browser import CHROMIUM_ARGS

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is needed (.ci/run installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(path.as_uri())
            assert page.inner_text("#verdict").strip() == "NOT READY"
            assert dialogs == []
        finally:
            browser.close()
