"""`gpucheck deploy cronjob` renders least-privilege manifests; bad options are usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from gpucheck import exitcodes
from gpucheck.config import resolve
from gpucheck.deploy import manifests
from gpucheck.deploy.options import validate
from gpucheck.sim import expectations_file

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate", "*"}


def _render(*args: str) -> list[dict]:
    res = subprocess.run([sys.executable, "-m", "gpucheck", "deploy", "cronjob", *args], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def _kind(docs: list[dict], kind: str, namespace: str | None = "*") -> list[dict]:
    return [d for d in docs if d["kind"] == kind and (namespace == "*" or d["metadata"].get("namespace") == namespace)]


def _rules(docs: list[dict], kind: str, namespace: str | None = "*") -> list[dict]:
    return [r for d in _kind(docs, kind, namespace) for r in d["rules"]]


def _grants(rules: list[dict], verb: str, resource: str) -> bool:
    return any(verb in r["verbs"] and resource in r["resources"] for r in rules)


@pytest.fixture(scope="module")
def standard() -> list[dict]:
    return _render("--config", expectations_file(), "--profile", "standard", "--namespace", "gpucheck-audit")


def test_objects_and_order(standard):
    kinds = [d["kind"] for d in standard]
    assert kinds[0] == "Namespace" and kinds[-1] == "CronJob"
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap"} <= set(kinds)
    ns = standard[0]["metadata"]
    assert ns["name"] == "gpucheck-audit"
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(d["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gpucheck" for d in standard)


def test_cluster_role_is_read_only_and_never_reads_secrets(standard):
    rules = _rules(standard, "ClusterRole")
    verbs = {v for r in rules for v in r["verbs"]}
    assert verbs == {"list", "create"}
    assert [r["resources"] for r in rules if "create" in r["verbs"]] == [["subjectaccessreviews"]]
    assert not any("secrets" in r["resources"] or "*" in r["resources"] or "*" in r["apiGroups"] for r in rules)
    assert verbs & WRITE_VERBS == {"create"}
    assert _grants(rules, "list", "daemonsets") and _grants(rules, "list", "nodes")


def test_secrets_only_by_name_and_only_in_the_training_namespace(standard):
    for d in standard:
        for r in d.get("rules", []):
            if "secrets" in r["resources"]:
                assert d["kind"] == "Role" and d["metadata"]["namespace"] == "default"
                assert r["resourceNames"] == ["training-credentials", "wandb-api-key"] and r["verbs"] == ["get"]


def test_without_configured_secrets_there_is_no_secrets_rule():
    docs = _render("--profile", "standard")
    assert not any("secrets" in r["resources"] for d in docs for r in d.get("rules", []))


def test_workspace_and_training_roles(standard):
    ws = _rules(standard, "Role", "gpucheck-audit")
    for verb in ("create", "get", "watch", "delete", "deletecollection"):
        assert _grants(ws, verb, "pods"), verb
    assert _grants(ws, "get", "pods/log") and _grants(ws, "create", "configmaps")
    training = _rules(standard, "Role", "default")
    assert _grants(training, "create", "pods") and _grants(training, "create", "persistentvolumeclaims")
    assert [r.get("resourceNames") for r in training if "serviceaccounts" in r["resources"]] == [["airflow-worker"]]
    bindings = _kind(standard, "RoleBinding") + _kind(standard, "ClusterRoleBinding")
    assert {b["subjects"][0]["name"] for b in bindings} == {"gpucheck"}
    assert {b["subjects"][0]["namespace"] for b in bindings} == {"gpucheck-audit"}


def test_quick_profile_gets_no_pod_rights():
    docs = _render("--profile", "quick", "--config", expectations_file())
    namespaced = [r for d in _kind(docs, "Role") for r in d["rules"]]
    assert not any(set(r["verbs"]) & {"create", "delete"} and "pods" in r["resources"] for r in namespaced)
    assert not any("secrets" in r["resources"] for r in namespaced)


def test_cronjob_fields(standard):
    cj = _kind(standard, "CronJob")[0]["spec"]
    assert cj["concurrencyPolicy"] == "Forbid" and cj["schedule"] == "0 3 * * *"
    assert cj["startingDeadlineSeconds"] > 0 and cj["successfulJobsHistoryLimit"] >= 1
    job = cj["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0 and job["activeDeadlineSeconds"] > 600
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "gpucheck" and pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 65532
    c = pod["containers"][0]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["args"][:4] == ["run", "--namespace=gpucheck-audit", "--config=/etc/gpucheck/gpucheck.yaml",
                             "--profile=standard"]
    assert "--publish-configmap=gpucheck-audit" in c["args"]
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/etc/gpucheck", "/reports", "/tmp"} <= mounts
    config = _kind(standard, "ConfigMap")[0]["data"]["gpucheck.yaml"]
    assert "airflow-worker" in config


def test_the_deadline_follows_the_configured_timeout(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("timeout: 1800\n")
    docs = _render("--config", str(cfg))
    assert _kind(docs, "CronJob")[0]["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 1800 + 120


def test_pvc_reports_and_pushgateway():
    docs = _render("--reports", "pvc", "--pvc-size", "5Gi", "--pushgateway", "http://pushgateway.monitoring:9091",
                   "--cluster-name", "prod-gpu")
    pvc = _kind(docs, "PersistentVolumeClaim")[0]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    c = _kind(docs, "CronJob")[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert "--report=/reports/$(GPUCHECK_JOB)" in c["args"]
    assert "--pushgateway=http://pushgateway.monitoring:9091" in c["args"]
    assert not any(a.startswith("--publish-configmap") for a in c["args"])
    assert {"name": "GPUCHECK_CLUSTER_NAME", "value": "prod-gpu"} in c["env"]
    assert not any("configmaps" in r["resources"] for d in docs for r in d.get("rules", []))


@pytest.mark.parametrize("args,option", [
    (["--schedule", "0 3 * *"], "--schedule"),
    (["--schedule", "61 3 * * *"], "--schedule"),
    (["--schedule", "0 3 * * 9"], "--schedule"),
    (["--namespace", "Bad_NS"], "--namespace"),
    (["--profile", "full"], "--profile"),
    (["--image", "gpucheck:latest"], "--image"),
    (["--image", "registry:5000/gpucheck"], "--image"),
    (["--reports", "s3"], "--reports"),
    (["--pvc-size", "lots"], "--pvc-size"),
    (["--pushgateway", "pushgateway:9091"], "--pushgateway"),
    (["--keep-reports", "0"], "--keep-reports"),
    (["--config", "/nonexistent.yaml"], "--config"),
])
def test_bad_options_are_usage_errors_naming_the_option(args, option):
    res = subprocess.run([sys.executable, "-m", "gpucheck", "deploy", "cronjob", *args], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == exitcodes.USAGE, res.stderr
    assert f"'{option}'" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""


def test_a_kubeconfig_in_the_config_file_is_refused(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kubeconfig: /home/me/.kube/config\n")
    res = subprocess.run([sys.executable, "-m", "gpucheck", "deploy", "cronjob", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == exitcodes.USAGE and "kubeconfig" in res.stderr


@pytest.mark.parametrize("schedule", ["*/15 * * * *", "0 3 * * MON-FRI", "0 0 1 JAN,JUL *", "@daily", "5 4 * * 0,7"])
def test_good_schedules(schedule):
    assert validate(schedule=schedule).schedule == schedule


def test_training_namespace_equal_to_the_workspace_merges_into_one_role(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("training: {namespace: gpucheck}\n")
    settings = resolve(cli={"config_file": str(cfg)}, env={})
    docs = manifests.render(validate(config_text=cfg.read_text()), settings)
    roles = _kind(docs, "Role")
    assert [r["metadata"]["name"] for r in roles] == ["gpucheck"]
    pods = [r for r in roles[0]["rules"] if r["resources"] == ["pods"]]
    assert len(pods) == 1 and {"create", "deletecollection", "watch"} <= set(pods[0]["verbs"])
