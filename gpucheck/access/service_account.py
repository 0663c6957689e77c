"""GPU-SA-001: the training service account exists, is not `default`, is not over-privileged,
and (when Airflow launches pods as it) may run and read its pods.

Answered with SubjectAccessReviews, as the API server's own authorizer decides, not by reading
RBAC objects by hand: aggregated roles, bindings to groups and webhooks are all accounted for.
A review for verb "*" or resource "*" is allowed only by a wildcard rule, which is what makes
wildcards detectable this way.
"""

from __future__ import annotations

from typing import Any

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure
from gpucheck.model import CheckResult, Finding, Status

CID = "GPU-SA-001"

# (what it would mean, verb, API group, resource, namespaced?) -- allowed is a problem
TOO_MUCH = (
    ("cluster-admin (every verb on every resource cluster-wide)", "*", "*", "*", False),
    ("wildcard verbs on pods in its namespace", "*", "", "pods", True),
    ("wildcard resources in its namespace", "get", "*", "*", True),
    ("read Secrets in every namespace", "list", "", "secrets", False),
    ("create pods in kube-system", "create", "", "pods", "kube-system"),
)
# what a pod launcher needs in its namespace: (verb, resource, subresource)
NEEDS = (("create", "pods", ""), ("get", "pods", ""), ("list", "pods", ""), ("watch", "pods", ""),
         ("delete", "pods", ""), ("get", "pods", "log"))


def _allowed(cluster: Cluster, user: str, groups: list[str], verb: str, group: str, resource: str,
             namespace: str | None, subresource: str = "") -> bool:
    attrs: dict[str, Any] = {"verb": verb, "group": group, "resource": resource}
    if namespace:
        attrs["namespace"] = namespace
    if subresource:
        attrs["subresource"] = subresource
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": attrs}}
    review = cluster.call(cluster.authz.create_subject_access_review, body, verb="create",
                          resource="subjectaccessreviews.authorization.k8s.io")
    return bool(review.status.allowed)


def review(cluster: Cluster, settings: Any) -> CheckResult:
    t = settings.training
    if not t.serviceAccount:
        return CheckResult.skip(CID, "no training service account configured (training.serviceAccount)")
    ns, name = t.namespace, t.serviceAccount
    obj = f"ServiceAccount/{ns}/{name}"
    if name == "default":
        return CheckResult.of(CID, [Finding(Status.FAIL, f"training pods run as the `default` service account of {ns}: "
                                            "every pod of the namespace shares its rights", obj)],
                              f"{obj} is the namespace default")
    try:
        cluster.call(cluster.core.read_namespaced_service_account, name, ns, verb="get", resource="serviceaccounts")
    except ApiFailure as exc:
        if exc.status == 404:
            return CheckResult.of(CID, [Finding(Status.FAIL, f"{obj} does not exist: training pods naming it are "
                                                "rejected at admission", obj)], f"{obj} does not exist")
        raise
    user = f"system:serviceaccount:{ns}:{name}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    findings = []
    for meaning, verb, group, resource, where in TOO_MUCH:
        scope = ns if where is True else (where or None)
        if _allowed(cluster, user, groups, verb, group, resource, scope):
            findings.append(Finding(Status.FAIL, f"{name} is over-privileged: it may {meaning}", obj,
                                    {"verb": verb, "group": group, "resource": resource, "namespace": scope}))
    if t.launchesPods:
        missing = [f"{verb} {res}{'/' + sub if sub else ''}" for verb, res, sub in NEEDS
                   if not _allowed(cluster, user, groups, verb, "", res, ns, sub)]
        if missing:
            findings.append(Finding(Status.FAIL, f"{name} launches pods but may not {', '.join(missing)} in {ns}", obj,
                                    {"missing": missing}))
    if not findings:
        need = "; it may run and read pods in its namespace" if t.launchesPods else ""
        findings.append(Finding(Status.PASS, f"{obj}: no cluster-wide, wildcard or Secret-reading rights{need}", obj))
    return CheckResult.summarized(CID, findings, findings[0].message)
