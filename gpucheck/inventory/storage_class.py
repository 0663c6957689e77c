"""GPU-STORAGE-001: the StorageClass training pods' checkpoint volumes use exists: the one
named in storage.storageClass, else the cluster's default."""

from __future__ import annotations

from typing import Any

from gpucheck.config import Settings
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status

CID = "GPU-STORAGE-001"
DEFAULT = "storageclass.kubernetes.io/is-default-class"


def default_class(classes: list[Any]) -> Any | None:
    return next((c for c in classes if (c.metadata.annotations or {}).get(DEFAULT) == "true"), None)


def present(snap: Snapshot, settings: Settings) -> CheckResult:
    wanted = settings.storage.storageClass
    classes = {c.metadata.name: c for c in snap.storageclasses}
    if wanted:
        sc = classes.get(wanted)
        if sc is None:
            return CheckResult.of(CID, [Finding(Status.FAIL, f"StorageClass {wanted} (storage.storageClass) does not "
                                                f"exist; classes: {', '.join(sorted(classes)) or 'none'}",
                                                f"StorageClass/{wanted}")], f"StorageClass {wanted} missing")
    else:
        sc = default_class(snap.storageclasses)
        if sc is None:
            return CheckResult.of(CID, [Finding(Status.FAIL, "no default StorageClass: a PersistentVolumeClaim without "
                                                "a class never binds; name one in storage.storageClass or mark one "
                                                "default", "StorageClass")], "no default StorageClass")
    return CheckResult.of(CID, [Finding(Status.PASS, f"StorageClass {sc.metadata.name} ({sc.provisioner}, "
                                        f"{sc.volume_binding_mode or 'Immediate'})", f"StorageClass/{sc.metadata.name}")],
                          f"StorageClass {sc.metadata.name}" + ("" if wanted else " (default)"))
