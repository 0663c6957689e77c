"""The nightly-audit deployment against the simulated cluster, RBAC on: the manifests pass a
server-side dry run and apply; a Job from the CronJob is admitted under the restricted
PodSecurity of its namespace; gpucheck run as the deployed ServiceAccount (a TokenRequest
token) meets no 403 in the quick and standard profiles; without one permission the checks that
need it, and only those, say ERROR naming the verb and resource; in a pod, connect() uses the
in-cluster service account. Everything is deleted afterwards: other tests share the cluster.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from gpucheck import exitcodes
from gpucheck.cluster import permissions
from gpucheck.config import resolve
from gpucheck.deploy import manifests
from gpucheck.deploy.options import validate
from gpucheck.sim import binaries, expectations_file

pytestmark = pytest.mark.sim

MANAGED = "app.kubernetes.io/managed-by=gpucheck"
PROBES = "gpucheck.dev/run"  # what every probe pod and claim of a run carries


def _kubectl(sim: Any, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    kubectl = binaries.locate("kubectl")
    assert kubectl is not None, "the sim's kubectl is not built (gpucheck sim build)"
    res = subprocess.run([str(kubectl), f"--kubeconfig={sim.kubeconfig}", *args], input=stdin, text=True,
                         capture_output=True, timeout=180)
    if check:
        assert res.returncode == 0, f"kubectl {' '.join(args)}: {res.stderr}"
    return res


def _docs_yaml(docs: list[dict]) -> str:
    return manifests.to_yaml(docs)


@pytest.fixture(scope="module")
def deployment(sim: Any, api: client.ApiClient) -> Iterator[dict[str, Any]]:
    """The rendered manifests, dry-run and applied for real; deleted (and waited for) at the end."""
    ns = f"gpucheck-t{uuid.uuid4().hex[:6]}"
    settings = resolve(cli={"config_file": expectations_file()}, env={})
    opts = validate(namespace=ns, profile="standard", config_file=expectations_file(),
                    config_text=Path(expectations_file()).read_text())
    docs = manifests.render(opts, settings)
    in_new_ns = [d for d in docs if d["metadata"].get("namespace") == ns]
    elsewhere = [d for d in docs if d["metadata"].get("namespace") != ns]
    try:
        # A server-side dry run of a namespaced object needs its namespace to exist, so the
        # objects elsewhere go first, then (namespace created) everything.
        out = _kubectl(sim, "apply", "--dry-run=server", "-f", "-", stdin=_docs_yaml(elsewhere)).stdout
        assert out.count("(server dry run)") == len(elsewhere)
        _kubectl(sim, "apply", "-f", "-", stdin=_docs_yaml(docs[:1]))
        out = _kubectl(sim, "apply", "--dry-run=server", "-f", "-", stdin=_docs_yaml(docs)).stdout
        assert out.count("(server dry run)") == len(docs)
        assert not client.CoreV1Api(api).list_namespaced_config_map(ns, label_selector=MANAGED).items
        _kubectl(sim, "apply", "-f", "-", stdin=_docs_yaml(docs))
        yield {"namespace": ns, "docs": docs, "opts": opts, "settings": settings}
    finally:
        _kubectl(sim, "delete", "--ignore-not-found", "--wait=true", "--timeout=120s", "-f", "-",
                 stdin=_docs_yaml(in_new_ns + elsewhere[1:] + elsewhere[:1]), check=False)
    assert not client.CoreV1Api(api).list_namespace(field_selector=f"metadata.name={ns}").items


def _token_kubeconfig(sim: Any, api: client.ApiClient, namespace: str, path: Path) -> Path:
    """A kubeconfig holding a TokenRequest token of the deployed ServiceAccount and the sim's CA."""
    tr = client.CoreV1Api(api).create_namespaced_service_account_token(
        manifests.NAME, namespace, {"spec": {"expirationSeconds": 3600}})
    ca = (Path(sim.dir) / "pki" / "ca.crt").read_bytes()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "sim", "cluster": {"server": sim.server,
                                                 "certificate-authority-data": base64.b64encode(ca).decode()}}],
        "users": [{"name": "sa", "user": {"token": tr.status.token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "sim", "user": "sa"}}]}))
    return path


@pytest.fixture(scope="module")
def sa_kubeconfig(sim, api, deployment, tmp_path_factory) -> Path:
    return _token_kubeconfig(sim, api, deployment["namespace"], tmp_path_factory.mktemp("sa") / "kubeconfig")


def _run(kubeconfig: Path, namespace: str, profile: str, report_dir: Path, *extra: str) -> dict[str, Any]:
    res = subprocess.run([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={kubeconfig}",
                          f"--namespace={namespace}", f"--config={expectations_file()}", f"--profile={profile}",
                          f"--report={report_dir}", *extra], capture_output=True, text=True, timeout=600)
    data = json.loads((report_dir / "report.json").read_text())
    data["_exit"], data["_out"] = res.returncode, res.stdout + res.stderr
    return data


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def _leftovers(api: client.ApiClient, namespaces: list[str]) -> list[str]:
    core = client.CoreV1Api(api)
    left = []
    for ns in namespaces:
        left += [f"pod {ns}/{p.metadata.name}" for p in core.list_namespaced_pod(ns, label_selector=PROBES).items
                 if not p.metadata.deletion_timestamp]
        left += [f"pvc {ns}/{p.metadata.name}" for p in
                 core.list_namespaced_persistent_volume_claim(ns, label_selector=PROBES).items
                 if not p.metadata.deletion_timestamp]
    return left


@pytest.fixture(scope="module")
def baseline(deployment, sa_kubeconfig, api, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """quick and standard runs as the ServiceAccount, with the summary published as the CronJob does."""
    ns = deployment["namespace"]
    out = {}
    for profile in ("quick", "standard"):
        out[profile] = _run(sa_kubeconfig, ns, profile, tmp_path_factory.mktemp(profile),
                            f"--publish-configmap={ns}", "--keep-reports=1")
    return out


@pytest.mark.parametrize("profile", ["quick", "standard"])
def test_the_service_account_meets_no_403(baseline, profile, deployment, api):
    report = baseline[profile]
    text = json.dumps(report["checks"]).lower()
    assert "forbidden" not in text and "403" not in text, report["_out"]
    # Nor the janitor, the cleanup or the publishing: the whole run works as the ServiceAccount.
    assert "forbidden" not in report["_out"].lower() and "gpucheck: warning" not in report["_out"], report["_out"]
    errors = {c["id"]: c["summary"] for c in report["checks"] if c["status"] == "ERROR"}
    assert not errors, errors
    assert report["verdict"] == "READY" and report["_exit"] == 0, report["_out"]
    assert "GPU-SA-001" in _statuses(report) and _statuses(report)["GPU-SA-001"] == "PASS"
    if profile == "standard":
        assert {"GPU-SECRET-001", "GPU-STORAGE-002", "GPU-SMI-001"} <= {
            c["id"] for c in report["checks"] if c["status"] == "PASS"}
    assert not _leftovers(api, [deployment["namespace"], deployment["settings"].training.namespace])


def test_the_summary_configmap_is_published_and_pruned(baseline, deployment, api):
    cms = client.CoreV1Api(api).list_namespaced_config_map(
        deployment["namespace"], label_selector="gpucheck.dev/report=summary").items
    assert len(cms) == 1  # --keep-reports=1: the quick run's summary was pruned by the standard run's
    summary = json.loads(cms[0].data["summary.json"])
    assert summary["verdict"] == "READY" and summary["profile"] == "standard"
    assert "summary published as ConfigMap" in baseline["standard"]["_out"]


def test_a_job_from_the_cronjob_is_admitted_under_restricted(sim, api, deployment):
    ns = deployment["namespace"]
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    assert core.read_namespace(ns).metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    job = f"manual-{uuid.uuid4().hex[:5]}"
    _kubectl(sim, "create", "job", f"--from=cronjob/{manifests.NAME}", job, "-n", ns)
    try:
        w = watch.Watch()
        pod = None
        for ev in w.stream(core.list_namespaced_pod, ns, label_selector=f"batch.kubernetes.io/job-name={job}",
                           timeout_seconds=60):
            pod = ev["object"]
            w.stop()
        assert pod is not None, "the Job controller created no pod: admission refused it?"
        spec = pod.spec.containers[0]
        assert spec.security_context.read_only_root_filesystem and pod.spec.service_account_name == "gpucheck"
        assert not [e for e in core.list_namespaced_event(ns, field_selector=f"involvedObject.name={job}").items
                    if e.reason == "FailedCreate"]
        # The namespace really enforces: a pod that is not restricted is refused.
        with pytest.raises(ApiException) as err:
            core.create_namespaced_pod(ns, {"metadata": {"name": "not-restricted"}, "spec": {
                "containers": [{"name": "c", "image": "busybox:1.36"}]}})
        assert err.value.status == 403 and "restricted" in err.value.body
    finally:
        batch.delete_namespaced_job(job, ns, propagation_policy="Background")


def _edit_rules(api: client.ApiClient, kind: str, name: str, namespace: str | None, edit) -> dict[str, Any]:
    rbac = client.RbacAuthorizationV1Api(api)
    obj = rbac.read_cluster_role(name) if kind == "ClusterRole" else rbac.read_namespaced_role(name, namespace)
    original = api.sanitize_for_serialization(obj.rules)
    obj.rules = edit(original)
    if kind == "ClusterRole":
        rbac.replace_cluster_role(name, obj)
    else:
        rbac.replace_namespaced_role(name, namespace, obj)
    return original


def _await_access(api: client.ApiClient, user: str, attrs: dict[str, str], allowed: bool) -> None:
    """The authorizer's RBAC cache follows an edit within moments; ask it until it agrees (a
    SubjectAccessReview cannot be watched), under a deadline."""
    authz = client.AuthorizationV1Api(api)
    deadline = time.monotonic() + 15
    while True:
        r = authz.create_subject_access_review({"spec": {"user": user, "resourceAttributes": attrs}})
        if bool(r.status.allowed) == allowed:
            return
        assert time.monotonic() < deadline, f"RBAC did not reflect the edit of {attrs}"
        time.sleep(0.2)


@pytest.mark.parametrize("profile,kind,verb,resource,group,subresource", [
    ("quick", "ClusterRole", "list", "daemonsets", "apps", ""),
    ("standard", "Role", "get", "pods", "", "log"),
    ("standard", "Role", "create", "pods", "", ""),
])
def test_a_missing_permission_is_an_error_naming_it(profile, kind, verb, resource, group, subresource, api,
                                                    deployment, sa_kubeconfig, baseline, tmp_path):
    ns = deployment["namespace"]
    opts = deployment["opts"]
    name = manifests.role_name(opts, None if kind == "ClusterRole" else ns)
    full = f"{resource}/{subresource}" if subresource else resource

    def drop(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in rules:
            if full in r["resources"] and group in r["apiGroups"]:
                r = {**r, "verbs": [v for v in r["verbs"] if v != verb]}
            if r["verbs"]:
                out.append(r)
        return out

    user = f"system:serviceaccount:{ns}:{manifests.NAME}"
    attrs = {"verb": verb, "group": group, "resource": resource, "subresource": subresource}
    if kind == "Role":
        attrs["namespace"] = ns
    original = _edit_rules(api, kind, name, None if kind == "ClusterRole" else ns, drop)
    try:
        _await_access(api, user, attrs, allowed=False)
        report = _run(sa_kubeconfig, ns, profile, tmp_path)
    finally:
        _edit_rules(api, kind, name, None if kind == "ClusterRole" else ns, lambda _: original)
        _await_access(api, user, attrs, allowed=True)
    perm = next(p for p in permissions.find(verb, full, group) if p.scope in (
        permissions.CLUSTER if kind == "ClusterRole" else permissions.WORKSPACE,))
    needing = {cid for cid in perm.needed_by if cid in _statuses(report)}
    after, before = _statuses(report), _statuses(baseline[profile])
    errors = {cid for cid, s in after.items() if s == "ERROR"}
    assert errors and errors <= needing, (errors, needing)
    qualified = f"{resource}.{group}" if group else full
    for c in report["checks"]:
        if c["id"] in errors:
            assert f"may not {verb} {qualified}" in c["summary"] + json.dumps(c["findings"]), c
        elif c["id"] in needing:
            # Checks graded from another check's pods (GPU-SMI-002/003, GPU-START-001) SKIP
            # pointing at it, as they always have when it has no output; the verdict stays NOT_READY.
            assert c["status"] == "SKIP" and any(f"see {cid}" in c["summary"] for cid in errors), c
    assert {cid: s for cid, s in after.items() if cid not in needing} == \
        {cid: s for cid, s in before.items() if cid not in needing}
    assert report["verdict"] == "NOT_READY" and report["_exit"] == 1
    assert not _leftovers(api, [ns, deployment["settings"].training.namespace])


def test_in_a_pod_connect_uses_the_service_account(sim, api, deployment, monkeypatch, tmp_path):
    from urllib.parse import urlparse

    from kubernetes.config import incluster_config

    from gpucheck.cluster.client import connect
    from gpucheck.inventory.snapshot import take

    tr = client.CoreV1Api(api).create_namespaced_service_account_token(
        manifests.NAME, deployment["namespace"], {"spec": {"expirationSeconds": 600}})
    token = tmp_path / "token"
    token.write_text(tr.status.token)
    server = urlparse(sim.server)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", server.hostname)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(Path(sim.dir) / "pki" / "ca.crt"))
    cluster = connect()
    assert cluster.source == "in-cluster service account"
    snap = take(cluster)
    assert not snap.errors, snap.errors
    assert len(snap.nodes) >= 7 and snap.daemonsets


def test_a_run_pushes_its_verdict_and_a_failed_push_is_visible_but_keeps_the_verdict(sim, tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[tuple[str, str]] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            seen.append((self.path, self.rfile.read(int(self.headers["Content-Length"])).decode()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        ok = _run(Path(sim.kubeconfig), "default", "quick", tmp_path / "ok", f"--pushgateway={url}",
                  "--cluster-name=sim")
    finally:
        server.shutdown()
        server.server_close()
    assert ok["_exit"] == 0 and ok["verdict"] == "READY", ok["_out"]
    (path, body), = seen
    assert path == "/metrics/job/gpucheck/cluster/sim" and 'gpucheck_verdict{verdict="READY"} 1.0' in body
    assert f"metrics pushed to {url}" in ok["_out"]
    failed = _run(Path(sim.kubeconfig), "default", "quick", tmp_path / "failed", "--pushgateway=http://127.0.0.1:9")
    assert failed["verdict"] == "READY"  # the report says the verdict, whatever happened to the push
    assert failed["_exit"] == exitcodes.PUBLISH_FAILED and "gpucheck: warning: cannot push to the Pushgateway at http://127.0.0.1:9" \
        in failed["_out"], failed["_out"]
