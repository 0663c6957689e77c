"""GPU-HEALTH-001: health signals other tools publish on GPU nodes, surfaced as findings.

Node conditions from the EKS node monitoring agent, AKS node-problem-detector and NVSentinel,
and IBM Autopilot's gpuhealth label (the table is gpucheck/inventory/data/health_signals.yaml).
A node without any of these publishers passes: their absence is not a fault.
"""

from __future__ import annotations

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes, tables
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status


def signals(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = gpu_nodes.find(snap.nodes)
    if not nodes:
        return CheckResult.skip("GPU-HEALTH-001", "no GPU nodes (see GPU-INV-001)")
    conditions, labels = tables.health_signals()
    conditions = {**conditions, **settings.health_conditions}
    findings = []
    watched = 0
    for g in nodes:
        obj = f"Node/{g.name}"
        bad = []
        seen = False
        for c in g.node.status.conditions or []:
            if c.type in conditions:
                seen = True
                if c.status == conditions[c.type]:
                    bad.append((Status.FAIL, f"condition {c.type}={c.status}"
                                + (f" ({c.reason}: {c.message})" if c.reason or c.message else "")))
        for label, verdicts in labels.items():
            value = g.labels.get(label)
            if value is not None:
                seen = True
                if value in verdicts:
                    bad.append((Status(verdicts[value]), f"{label}={value}"))
        watched += seen
        if bad:
            worst = max((s for s, _ in bad), key=lambda s: s.rank)
            findings.append(Finding(worst, f"{g.name}: " + "; ".join(m for _, m in bad), obj,
                                    {"signals": [m for _, m in bad]}))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: " + ("health signals clear" if seen
                                    else "no health publisher reports on it"), obj))
    bad_nodes = [f for f in findings if f.status != Status.PASS]
    return CheckResult.of("GPU-HEALTH-001", findings,
                          "; ".join(f.message for f in bad_nodes) if bad_nodes
                          else f"no health signal against {len(nodes)} GPU node(s) ({watched} watched by a publisher)")
