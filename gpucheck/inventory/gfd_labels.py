"""GPU-DRV-003: GPU Feature Discovery still relabels the nodes.

GFD rewrites nvidia.com/gfd.timestamp on every pass (once a minute by default). An old
timestamp means GFD stopped, so every nvidia.com/* label the other checks read may be stale.
"""

from __future__ import annotations

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status

LABEL = "nvidia.com/gfd.timestamp"


def _age_text(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def fresh(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = [g for g in gpu_nodes.find(snap.nodes) if LABEL in g.labels]
    if not nodes:
        return CheckResult.skip("GPU-DRV-003", f"no GPU node carries {LABEL} (GFD absent or run with --no-timestamp)")
    limit = settings.gfd_max_age_hours * 3600
    findings = []
    for g in nodes:
        raw = g.labels[LABEL]
        obj = f"Node/{g.name}"
        try:
            stamp = float(raw)
        except ValueError:
            findings.append(Finding(Status.WARN, f"{g.name}: {LABEL}={raw!r} is not a Unix time", obj))
            continue
        age = snap.taken_at - stamp
        if age > limit:
            findings.append(Finding(Status.WARN, f"{g.name}: GFD labels last written {_age_text(age)} ago "
                                    f"(limit {settings.gfd_max_age_hours:g} h): GFD is not running there",
                                    obj, {"timestamp": raw, "age_hours": round(age / 3600, 1)}))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: labels {_age_text(max(age, 0))} old", obj))
    bad = [f for f in findings if f.status != Status.PASS]
    return CheckResult.of("GPU-DRV-003", findings,
                          f"stale GFD labels on {len(bad)} node(s): " + ", ".join(f.object[5:] for f in bad)
                          if bad else f"GFD labels fresh on {len(nodes)} node(s)")
