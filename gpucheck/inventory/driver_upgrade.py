"""GPU-DRV-004: no node is stuck in, or failed, a GPU Operator driver upgrade.

The operator's upgrade controller walks each node through the states of the
nvidia.com/gpu-driver-upgrade-state label (cordon, wait for jobs, drain, restart the driver
pod, validate, uncordon) and records when waiting steps began in
nvidia.com/gpu-driver-upgrade-*-start-time annotations (Unix seconds).
"""

from __future__ import annotations

import re

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status

LABEL = "nvidia.com/gpu-driver-upgrade-state"
START = re.compile(r"^nvidia\.com/gpu-driver-upgrade-.*start-time$")
DONE = ("upgrade-done", "")


def stuck(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = [g for g in gpu_nodes.find(snap.nodes) if LABEL in g.labels]
    if not nodes:
        return CheckResult.skip("GPU-DRV-004", f"no GPU node carries {LABEL} (no GPU Operator driver upgrades)")
    limit = settings.driver_upgrade_stuck_after_hours * 3600
    findings = []
    for g in nodes:
        state = g.labels[LABEL]
        obj = f"Node/{g.name}"
        starts = {k: v for k, v in (g.node.metadata.annotations or {}).items() if START.match(k)}
        waited = max((snap.taken_at - float(v) for v in starts.values() if _number(v)), default=None)
        ev = {"state": state, **starts}
        if state == "upgrade-failed":
            findings.append(Finding(Status.FAIL, f"{g.name}: driver upgrade failed", obj, ev))
        elif state in DONE:
            findings.append(Finding(Status.PASS, f"{g.name}: {state or 'no upgrade pending'}", obj))
        elif waited is not None and waited > limit:
            findings.append(Finding(Status.FAIL, f"{g.name}: driver upgrade stuck in {state} for "
                                    f"{waited / 3600:.1f} h (limit {settings.driver_upgrade_stuck_after_hours:g} h)",
                                    obj, ev))
        else:
            findings.append(Finding(Status.WARN, f"{g.name}: driver upgrade in progress ({state}); the node will "
                                    "be cordoned and drained", obj, ev))
    return CheckResult.summarized("GPU-DRV-004", findings, f"no driver upgrade pending on {len(nodes)} node(s)")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
