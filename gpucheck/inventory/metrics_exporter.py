"""GPU-METRICS-001: NVIDIA dcgm-exporter (standalone or the GPU Operator's) is Ready on every
GPU node, a Service exposes it and, where the Prometheus Operator is installed, a
ServiceMonitor scrapes it."""

from __future__ import annotations

from typing import Any

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status

CID = "GPU-METRICS-001"


def _is_exporter(ds: Any) -> bool:
    images = " ".join(c.image or "" for c in ds.spec.template.spec.containers or [])
    return "dcgm-exporter" in (ds.metadata.name or "") or "dcgm-exporter" in images


def _selects(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []) if pod.status)


def exporter(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = gpu_nodes.find(snap.nodes)
    if not nodes:
        return CheckResult.skip(CID, "no GPU nodes (see GPU-INV-001)")
    found = [d for d in snap.daemonsets if _is_exporter(d)]
    if not found:
        return CheckResult.of(CID, [Finding(Status.FAIL, "no dcgm-exporter DaemonSet: GPU utilisation, memory and "
                                            "errors are not measured", "DaemonSet")], "dcgm-exporter not installed")
    ds = found[0]
    ns, name = ds.metadata.namespace, ds.metadata.name
    obj = f"DaemonSet/{ns}/{name}"
    selector = ds.spec.selector.match_labels or {}
    pods = [p for p in snap.pods if p.metadata.namespace == ns and _selects(selector, p.metadata.labels)]
    ready_on = {p.spec.node_name for p in pods if _ready(p)}
    findings = []
    missing = [g.name for g in nodes if g.name not in ready_on and gpu_nodes.is_ready(g.node)]
    for n in missing:
        findings.append(Finding(Status.FAIL, f"{n}: no Ready dcgm-exporter pod", f"Node/{n}"))
    labels = ds.spec.template.metadata.labels or {}
    # A Service's selector is a plain map (a DaemonSet's is a LabelSelector): read it raw.
    services = [s for s in snap.services if s.metadata.namespace == ns
                and _selects((s.to_dict().get("spec") or {}).get("selector"), labels)]
    if not services:
        findings.append(Finding(Status.WARN, f"no Service in {ns} selects the dcgm-exporter pods: Prometheus has no "
                                "stable target", obj))
    elif "servicemonitors" not in snap.absent:
        svc_labels = [s.metadata.labels or {} for s in services]
        monitors = [m for m in snap.servicemonitors
                    if any(_selects((m.spec.selector.match_labels if m.spec and m.spec.selector else None), sl)
                           for sl in svc_labels)]
        if not monitors:
            findings.append(Finding(Status.WARN, "the Prometheus Operator is installed but no ServiceMonitor scrapes the "
                                    "dcgm-exporter Service", obj))
    if not findings:
        extra = "" if "servicemonitors" in snap.absent else ", scraped by a ServiceMonitor"
        findings.append(Finding(Status.PASS, f"{ns}/{name} Ready on all {len(nodes)} GPU nodes, Service "
                                f"{services[0].metadata.name}{extra}", obj))
    bad = [f for f in findings if f.status != Status.PASS]
    return CheckResult.of(CID, findings,
                          (f"dcgm-exporter missing on {len(missing)} GPU node(s): {', '.join(missing)}" if missing else
                           "; ".join(f.message for f in bad)) if bad else findings[0].message)
