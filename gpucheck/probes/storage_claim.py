"""GPU-STORAGE-002: a PersistentVolumeClaim of the training StorageClass and access mode binds
in the training namespace and a pod mounts it; a ReadWriteOnce claim shared by a sweep's pods
is flagged (they can then run on one node at a time)."""

from __future__ import annotations

import time
from typing import Any


from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure
from gpucheck.cluster.wait import WaitTimeout, wait_for
from gpucheck.cluster.workspace import stamp
from gpucheck.inventory.storage_class import default_class
from gpucheck.model import CheckResult, Finding, Status
from gpucheck.probes import training_pods

CID = "GPU-STORAGE-002"


def _contention(cluster: Cluster, settings: Any) -> Finding | None:
    claim = settings.storage.sweepClaim
    if not claim:
        return None
    ns = settings.sweep.namespace or settings.training.namespace
    try:
        pvc = cluster.call(cluster.core.read_namespaced_persistent_volume_claim, claim, ns, verb="get",
                           resource="persistentvolumeclaims")
    except ApiFailure as exc:
        if exc.status == 404:
            return Finding(Status.FAIL, f"the sweep's claim {ns}/{claim} (storage.sweepClaim) does not exist",
                           f"PersistentVolumeClaim/{ns}/{claim}")
        raise
    modes = set(pvc.spec.access_modes or [])
    if modes <= {"ReadWriteOnce", "ReadWriteOncePod"} and settings.sweep.experiments > 1:
        return Finding(Status.WARN, f"the sweep's {settings.sweep.experiments} pods share {ns}/{claim}, which is "
                       f"{'/'.join(sorted(modes))}: they can only run on one node at a time (contention); use a "
                       "ReadWriteMany class or one claim per experiment", f"PersistentVolumeClaim/{ns}/{claim}",
                       {"access_modes": sorted(modes)})
    return None


def claim(cluster: Cluster, settings: Any, snap: Any, labels: dict[str, str], run_id: str) -> CheckResult:
    st, ns = settings.storage, settings.training.namespace
    sc = st.storageClass or (default_class(snap.storageclasses).metadata.name
                             if default_class(snap.storageclasses) else None)
    if sc is None:
        return CheckResult.of(CID, [Finding(Status.FAIL, "no StorageClass to claim from (see GPU-STORAGE-001)",
                                            "StorageClass")], "no StorageClass")
    name = f"gpucheck-{run_id}-claim"
    body = {"metadata": {"name": name, "labels": {**labels, "gpucheck.dev/probe": "storage"}},
            "spec": {"storageClassName": sc, "accessModes": [st.accessMode],
                     "resources": {"requests": {"storage": st.size}}}}
    obj = f"PersistentVolumeClaim/{ns}/{name}"
    findings = []
    started = time.monotonic()
    try:
        cluster.call(cluster.core.create_namespaced_persistent_volume_claim, ns, stamp(body, cluster), verb="create",
                     resource="persistentvolumeclaims")
    except ApiFailure as exc:
        if exc.status != 409:  # 409: a retried create found its own first attempt (the name is this run's)
            raise
    try:
        binding = next((c.volume_binding_mode for c in snap.storageclasses if c.metadata.name == sc), None)
        if binding != "WaitForFirstConsumer":
            try:
                wait_for(cluster.core.list_namespaced_persistent_volume_claim, lambda p: p.status.phase == "Bound",
                         ns, name=name, timeout=settings.schedule_timeout, what=f"claim {name} to bind",
                         cluster=cluster, resource="persistentvolumeclaims")
            except WaitTimeout:
                findings.append(Finding(Status.FAIL, f"a {st.size} {st.accessMode} claim of StorageClass {sc} did not "
                                        f"bind in {settings.schedule_timeout:g}s: no volume matches and no provisioner "
                                        "made one", obj))
        if not findings:
            bound_s = time.monotonic() - started
            volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": name}}]
            out = training_pods.run(cluster, settings, labels, "storage", volumes,
                                    [{"name": "data", "mountPath": "/checkpoints"}])
            ev = {"pod": out.name, "phase": out.phase, "reason": out.reason, "times_s": out.times,
                  "bound_s": round(bound_s, 1)}
            if "running" in out.times or out.phase in ("Succeeded", "Running"):
                findings.append(Finding(Status.PASS, f"a {st.size} {st.accessMode} claim of {sc} bound in "
                                        f"{bound_s:.1f}s and a pod mounted it", obj, ev))
            else:
                findings.append(Finding(Status.FAIL, f"a pod mounting the {sc} claim did not start: {out.reason} "
                                        f"{out.message}".strip(), obj, ev))
    finally:
        try:
            cluster.call(cluster.core.delete_namespaced_persistent_volume_claim, name, ns, verb="delete",
                         resource="persistentvolumeclaims")
        except ApiFailure as exc:
            if exc.status != 404:
                raise
    shared = _contention(cluster, settings)
    if shared is not None:
        findings.append(shared)
    return CheckResult.summarized(CID, findings, findings[0].message)
