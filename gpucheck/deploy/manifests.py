"""The nightly cluster-audit CronJob and its least-privilege RBAC, as manifest dicts (pure).

RBAC comes from gpucheck.cluster.permissions, filtered to what the chosen profile and report
destination use: a quick audit gets no pod rights at all; Secrets only by name, only when the
config lists them. Everything carries gpucheck's managed-by label.
"""

from __future__ import annotations

from typing import Any

import yaml

from gpucheck import __version__
from gpucheck.cluster import permissions
from gpucheck.cluster.workspace import MANAGED_BY
from gpucheck.config import Settings
from gpucheck.deploy.options import DeployOptions

NAME = "gpucheck"
CONFIG_PATH = "/etc/gpucheck/gpucheck.yaml"
REPORT_DIR = "/reports"
UID = 65532  # the image's non-root user (see the Dockerfile)
RUN_GRACE_S = 120  # activeDeadlineSeconds beyond the run's own timeout: start-up, report writing
LABELS = {**MANAGED_BY, "app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "cluster-audit",
          "app.kubernetes.io/version": __version__}
RBAC_GROUP = "rbac.authorization.k8s.io"


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(LABELS)
    meta.update(extra)
    return meta


def features(opts: DeployOptions) -> frozenset[str]:
    """The optional run phases this deployment uses (see permissions.PHASES)."""
    return frozenset({"publish"} if opts.reports == "configmap" else set())


def rules(opts: DeployOptions, settings: Settings) -> dict[str | None, list[dict[str, Any]]]:
    """namespace (None: cluster-wide) -> RBAC rules, from the permissions table."""
    out: dict[str | None, list[dict[str, Any]]] = {}
    for perm in permissions.PERMISSIONS:
        if not permissions.needed(perm, opts.profile, features(opts)):
            continue
        if perm.when and not permissions.setting(settings, perm.when):
            continue
        names = permissions.resource_names(perm, settings)
        if names == []:
            continue  # restricted to names the config does not give: the check SKIPs, no rule
        rule: dict[str, Any] = {"apiGroups": [perm.group], "resources": [perm.resource], "verbs": list(perm.verbs)}
        if names:
            rule["resourceNames"] = names
        ns = permissions.namespace_of(perm.scope, settings, opts.namespace)
        _merge(out.setdefault(ns, []), rule)
    return out


def _merge(rules: list[dict[str, Any]], rule: dict[str, Any]) -> None:
    """Add verbs to an existing rule for the same group, resource and names, else append."""
    for r in rules:
        if (r["apiGroups"], r["resources"], r.get("resourceNames")) == \
                (rule["apiGroups"], rule["resources"], rule.get("resourceNames")):
            r["verbs"] = sorted(set(r["verbs"]) | set(rule["verbs"]))
            return
    rules.append({**rule, "verbs": sorted(rule["verbs"])})


def role_name(opts: DeployOptions, namespace: str | None) -> str:
    """ClusterRole `gpucheck-<ns>`; Role `gpucheck` in the workspace and `gpucheck-<ns>` elsewhere,
    so two deployments sharing a training namespace do not overwrite each other."""
    return NAME if namespace == opts.namespace else f"{NAME}-{opts.namespace}"


def render(opts: DeployOptions, settings: Settings) -> list[dict[str, Any]]:
    """Every manifest, in the order `kubectl apply` needs (Namespace first)."""
    ns = opts.namespace
    subject = {"kind": "ServiceAccount", "name": NAME, "namespace": ns}
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, labels={
            **LABELS, "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest"})},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, ns),
         "automountServiceAccountToken": False},
    ]
    by_ns = rules(opts, settings)
    cluster_rules = by_ns.pop(None, [])
    name = role_name(opts, None)
    docs += [
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": _meta(name), "rules": cluster_rules},
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": _meta(name),
         "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name}, "subjects": [subject]},
    ]
    for namespace in sorted(by_ns, key=lambda n: (n != ns, n)):
        name = role_name(opts, namespace)
        docs += [
            {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "Role", "metadata": _meta(name, namespace),
             "rules": by_ns[namespace]},
            {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "RoleBinding", "metadata": _meta(name, namespace),
             "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name}, "subjects": [subject]},
        ]
    docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(f"{NAME}-config", ns),
                 "data": {"gpucheck.yaml": opts.config_text or "# gpucheck's defaults (no --config given)\n{}\n"}})
    if opts.reports == "pvc":
        docs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(f"{NAME}-reports", ns),
                     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": opts.pvc_size}}}})
    docs.append(cronjob(opts, settings))
    return docs


def command(opts: DeployOptions) -> list[str]:
    args = ["run", f"--namespace={opts.namespace}", f"--config={CONFIG_PATH}", f"--profile={opts.profile}"]
    if opts.reports == "pvc":
        args.append(f"--report={REPORT_DIR}/$(GPUCHECK_JOB)")  # one directory per run, named by its Job
    else:
        args += [f"--report={REPORT_DIR}", f"--publish-configmap={opts.namespace}",
                 f"--keep-reports={opts.keep_reports}"]
    if opts.pushgateway:
        args.append(f"--pushgateway={opts.pushgateway}")
    return args


def cronjob(opts: DeployOptions, settings: Settings) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "HOME", "value": "/tmp"},  # the root filesystem is read-only
        {"name": "GPUCHECK_JOB", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}}},
    ]
    if opts.cluster_name:
        env.append({"name": "GPUCHECK_CLUSTER_NAME", "value": opts.cluster_name})
    reports = {"name": "reports", "emptyDir": {"sizeLimit": "256Mi"}} if opts.reports == "configmap" else \
        {"name": "reports", "persistentVolumeClaim": {"claimName": f"{NAME}-reports"}}
    container = {
        "name": NAME,
        "image": opts.image,
        "imagePullPolicy": "IfNotPresent",
        "args": command(opts),
        "env": env,
        "workingDir": "/tmp",
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/gpucheck", "readOnly": True},
                         {"name": "reports", "mountPath": REPORT_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "metadata": {"labels": dict(LABELS)},
        "spec": {
            "serviceAccountName": NAME,
            "automountServiceAccountToken": True,  # the run's only credential: this ServiceAccount's token
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [{"name": "config", "configMap": {"name": f"{NAME}-config"}}, reports,
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    }
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(NAME, opts.namespace),
        "spec": {
            "schedule": opts.schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 900,  # a run missed by more than this (controller down) is skipped
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": dict(LABELS)}, "spec": {
                "backoffLimit": 0,  # a NOT_READY verdict is an answer, not a failure to retry
                "activeDeadlineSeconds": int(settings.timeout) + RUN_GRACE_S,
                "template": pod,
            }},
        },
    }


class _Dumper(yaml.SafeDumper):
    """Lists of scalars inline (`verbs: [get, list]`), maps as blocks, texts as `|` blocks."""


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, (dict, list)) for v in data) and len(str(data)) < 80
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(list, _list)
_Dumper.add_representer(str, _str)


def to_yaml(docs: list[dict[str, Any]]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, width=120, default_flow_style=False)
