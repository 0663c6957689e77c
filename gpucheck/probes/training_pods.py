"""Pods shaped like a training task in the training namespace (not the run's workspace): a
task mounts its Secrets and volumes from there. Labelled with the run, deleted when done."""

from __future__ import annotations

from typing import Any

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.podrun import PodOutcome, run_pod
from gpucheck.probes.specs import pod_name


def run(cluster: Cluster, settings: Any, labels: dict[str, str], kind: str, volumes: list[dict[str, Any]],
        mounts: list[dict[str, Any]]) -> PodOutcome:
    t = settings.training
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": volumes,
        "containers": [{"name": "probe", "image": settings.probe_image, "command": ["true"], "volumeMounts": mounts,
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
    }
    if t.serviceAccount:
        spec["serviceAccountName"] = t.serviceAccount
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name(kind, labels.get("gpucheck.dev/run", "run")),
                         "labels": {**labels, "gpucheck.dev/probe": kind}},
            "spec": spec}
    return run_pod(cluster, t.namespace, body, schedule_timeout=settings.schedule_timeout,
                   startup_timeout=settings.startup_timeout, logs=False)
