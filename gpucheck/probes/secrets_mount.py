"""GPU-SECRET-001: the Secrets training pods mount exist in the training namespace, and a pod
that mounts them by name, as a KubernetesPodOperator task would, starts.

Existence is asked for metadata only (a PartialObjectMetadata GET): gpucheck never receives a
Secret's contents.
"""

from __future__ import annotations

from typing import Any

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure
from gpucheck.model import CheckResult, Finding, Status
from gpucheck.probes import training_pods

CID = "GPU-SECRET-001"
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


def exists(cluster: Cluster, namespace: str, name: str) -> bool:
    try:
        resp = cluster.call(cluster.api.call_api, f"/api/v1/namespaces/{namespace}/secrets/{name}", "GET",
                            header_params={"Accept": METADATA_ONLY}, auth_settings=["BearerToken"],
                            _preload_content=False, verb="get", resource="secrets (metadata only)")
        resp.release_conn()
        return True
    except ApiFailure as exc:
        if exc.status == 404:
            return False
        raise


def mount(cluster: Cluster, settings: Any, labels: dict[str, str]) -> CheckResult:
    t = settings.training
    if not t.secrets:
        return CheckResult.skip(CID, "no Secrets configured (training.secrets)")
    ns = t.namespace
    findings = []
    present = []
    for name in t.secrets:
        if exists(cluster, ns, name):
            present.append(name)
        else:
            findings.append(Finding(Status.FAIL, f"Secret {ns}/{name} does not exist: a task mounting it stays in "
                                    "ContainerCreating (FailedMount) until its startup timeout", f"Secret/{ns}/{name}"))
    if present and not findings:
        volumes = [{"name": f"s{i}", "secret": {"secretName": n}} for i, n in enumerate(present)]
        mounts = [{"name": f"s{i}", "mountPath": f"/secrets/{n}", "readOnly": True} for i, n in enumerate(present)]
        out = training_pods.run(cluster, settings, labels, "secrets", volumes, mounts)
        ev = {"pod": out.name, "phase": out.phase, "reason": out.reason, "times_s": out.times}
        if "running" in out.times or out.phase in ("Succeeded", "Running"):
            findings.append(Finding(Status.PASS, f"a pod in {ns} mounting {', '.join(present)} started in "
                                    f"{out.times.get('running', 0):.1f}s", f"Namespace/{ns}", ev))
        else:
            findings.append(Finding(Status.FAIL, f"a pod in {ns} mounting {', '.join(present)} did not start: "
                                    f"{out.reason} {out.message}".strip(), f"Namespace/{ns}", ev))
    return CheckResult.summarized(CID, findings, findings[0].message)
