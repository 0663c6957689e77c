"""Probe pod bodies: what a KubernetesPodOperator task on that node would submit.

Tolerations, node selector and a GPU (or MIG slice) limit as a training task carries them;
a security context that passes PodSecurity "restricted"; the run's labels for cleanup.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from gpucheck.config import Settings

LIFECYCLE_TAINTS = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")


def pod_name(kind: str, target: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", target.lower()).strip("-")[:30].strip("-")
    return f"gpucheck-{kind}-{slug}-{secrets.token_hex(3)}"


def tolerations_for(node: Any) -> list[dict[str, str]]:
    """Tolerate the node's own taints (a task configured for that pool does), except the
    lifecycle taints the control plane adds to sick nodes."""
    out = []
    for t in node.spec.taints or []:
        if t.effect in ("NoSchedule", "NoExecute") and not t.key.startswith(LIFECYCLE_TAINTS):
            tol = {"key": t.key, "operator": "Equal", "value": t.value or "", "effect": t.effect}
            if not t.value:
                tol = {"key": t.key, "operator": "Exists", "effect": t.effect}
            out.append(tol)
    return out


def probe_pod(*, kind: str, node: Any, settings: Settings, labels: dict[str, str], command: list[str],
              limits: dict[str, str] | None = None, tolerate: bool = True) -> dict[str, Any]:
    name = node.metadata.name
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "nodeSelector": {"kubernetes.io/hostname": (node.metadata.labels or {}).get("kubernetes.io/hostname", name)},
        "tolerations": tolerations_for(node) if tolerate else [],
        "terminationGracePeriodSeconds": 0,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "probe",
            "image": settings.probe_image,
            "command": command,
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                "runAsNonRoot": True},
            "resources": {"limits": dict(limits)} if limits else {},
        }],
    }
    if settings.probe_service_account:
        spec["serviceAccountName"] = settings.probe_service_account
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name(kind, name), "labels": {**labels, "gpucheck.dev/probe": kind}},
        "spec": spec,
    }
