"""GPU-RT-001: an nvidia RuntimeClass."""

from __future__ import annotations

from gpucheck.config import Settings
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status


def runtime_class(snap: Snapshot, settings: Settings) -> CheckResult:
    nvidia = [rc for rc in snap.runtimeclasses if rc.handler == "nvidia" or rc.metadata.name == "nvidia"]
    if nvidia:
        return CheckResult.of("GPU-RT-001", [Finding(Status.PASS, f"RuntimeClass {rc.metadata.name} "
                                                     f"(handler {rc.handler})", f"RuntimeClass/{rc.metadata.name}")
                                             for rc in nvidia], "nvidia RuntimeClass present")
    return CheckResult.of("GPU-RT-001", [Finding(Status.WARN, "no RuntimeClass with handler nvidia", "Cluster")],
                          "no nvidia RuntimeClass")
