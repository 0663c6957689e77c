"""API-only checks: one snapshot of the cluster, then a pure analyzer per check."""

from __future__ import annotations

import time
from typing import Callable

from gpucheck.config import Settings
from gpucheck.inventory import (allocatable, autoscaling, device_plugin, driver_upgrade, drivers, gfd_labels, health,
                                metrics_exporter, mig, nodes, runtime, storage_class, taints, training_namespace)
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult

Analyzer = Callable[[Snapshot, Settings], CheckResult]

# check id -> (analyzer, the kinds it reads)
ANALYZERS: dict[str, tuple[Analyzer, tuple[str, ...]]] = {
    "GPU-INV-001": (nodes.inventory, ("nodes",)),
    "GPU-NODE-001": (nodes.ready, ("nodes",)),
    "GPU-DP-001": (device_plugin.present, ("daemonsets",)),
    "GPU-DP-002": (device_plugin.ready, ("nodes", "daemonsets", "pods")),
    "GPU-DP-003": (device_plugin.tolerations, ("nodes", "daemonsets")),
    "GPU-ALLOC-001": (allocatable.withheld, ("nodes",)),
    "GPU-ALLOC-002": (allocatable.matches_gfd, ("nodes",)),
    "GPU-ALLOC-003": (allocatable.instance_count, ("nodes",)),
    "GPU-ALLOC-004": (allocatable.shared, ("nodes",)),
    "GPU-TAINT-001": (taints.tainted, ("nodes",)),
    "GPU-TAINT-002": (taints.squatters, ("nodes", "pods")),
    "GPU-DRV-001": (drivers.consistent, ("nodes",)),
    "GPU-DRV-002": (drivers.minimum, ("nodes",)),
    "GPU-DRV-003": (gfd_labels.fresh, ("nodes",)),
    "GPU-DRV-004": (driver_upgrade.stuck, ("nodes",)),
    "GPU-MIG-001": (mig.strategy, ("nodes",)),
    "GPU-MIG-002": (mig.config_state, ("nodes",)),
    "GPU-MIG-003": (mig.slice_limits, ("nodes",)),
    "GPU-HEALTH-001": (health.signals, ("nodes",)),
    "GPU-RT-001": (runtime.runtime_class, ("runtimeclasses",)),
    "GPU-NS-001": (training_namespace.quota_headroom, ("resourcequotas",)),
    "GPU-NS-002": (training_namespace.priority_class, ("priorityclasses",)),
    "GPU-STORAGE-001": (storage_class.present, ("storageclasses",)),
    "GPU-METRICS-001": (metrics_exporter.exporter, ("nodes", "daemonsets", "pods", "services", "servicemonitors")),
    "GPU-SCALE-001": (autoscaling.coverage, ("nodes", "deployments", "nodepools")),
}


def evaluate(check_id: str, snap: Snapshot, settings: Settings) -> CheckResult:
    """Run one analyzer; a kind it needs that could not be read makes the result ERROR."""
    analyzer, kinds = ANALYZERS[check_id]
    err = snap.error_for(kinds)
    if err is not None:
        return CheckResult.error(check_id, str(err))
    started = time.monotonic()
    result = analyzer(snap, settings)
    return CheckResult(result.id, result.status, result.findings, result.summary, time.monotonic() - started)
