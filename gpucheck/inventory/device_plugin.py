"""GPU-DP-001/002/003: the NVIDIA device plugin DaemonSet, across install methods."""

from __future__ import annotations

from typing import Any

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status

# Image and name fragments of the device plugin as the static manifest, the Helm chart, the
# GPU Operator, GKE and AKS install it (see the project's corpus of real manifests).
_IMAGE_HINTS = ("k8s-device-plugin", "nvidia-gpu-device-plugin", "nvidia/device-plugin")
_NAME_HINTS = ("nvidia-device-plugin", "nvidia-gpu-device-plugin")


def _matches_selector(labels: dict[str, str], selector: str) -> bool:
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def find(snap: Snapshot, settings: Settings) -> list[Any]:
    out = []
    for ds in snap.daemonsets:
        labels = dict(ds.metadata.labels or {})
        tmpl_labels = dict(ds.spec.template.metadata.labels or {}) if ds.spec.template.metadata else {}
        if settings.device_plugin_selectors:
            if any(_matches_selector(labels, s) or _matches_selector(tmpl_labels, s)
                   for s in settings.device_plugin_selectors):
                out.append(ds)
            continue
        containers = ds.spec.template.spec.containers or []
        # GPU Feature Discovery ships in the device plugin's image since v0.15; it is not a plugin.
        argv = " ".join(" ".join((c.command or []) + (c.args or [])) for c in containers)
        if "feature-discovery" in ds.metadata.name or "gpu-feature-discovery" in argv:
            continue
        images = [c.image or "" for c in containers]
        if any(h in img for img in images for h in _IMAGE_HINTS) or any(
                h in ds.metadata.name for h in _NAME_HINTS):
            out.append(ds)
    return out


def _ref(ds: Any) -> str:
    return f"DaemonSet/{ds.metadata.namespace}/{ds.metadata.name}"


def version(ds: Any) -> str:
    """The image tag of the plugin container (v0.17.1), or "unknown"."""
    img = next((c.image for c in ds.spec.template.spec.containers if c.image), "")
    return img.rsplit(":", 1)[1] if ":" in img.rsplit("/", 1)[-1] else "unknown"


def present(snap: Snapshot, settings: Settings) -> CheckResult:
    found = find(snap, settings)
    if not found:
        how = (f"no DaemonSet matches {', '.join(settings.device_plugin_selectors)}"
               if settings.device_plugin_selectors else
               f"none of the {len(snap.daemonsets)} DaemonSets runs the NVIDIA device plugin")
        return CheckResult.of("GPU-DP-001", [Finding(Status.FAIL, how, "Cluster")], "device plugin not installed")
    findings = [Finding(Status.PASS, f"{_ref(ds)} runs {ds.spec.template.spec.containers[0].image}", _ref(ds),
                        {"image": ds.spec.template.spec.containers[0].image, "version": version(ds)})
                for ds in found]
    return CheckResult.of("GPU-DP-001", findings,
                          ", ".join(f"{ds.metadata.namespace}/{ds.metadata.name} {version(ds)}" for ds in found))


def _owned_pods(snap: Snapshot, ds: Any) -> list[Any]:
    return [p for p in snap.pods if p.metadata.namespace == ds.metadata.namespace and any(
        o.kind == "DaemonSet" and o.uid == ds.metadata.uid for o in (p.metadata.owner_references or []))]


def _pod_ready(p: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))


def ready(snap: Snapshot, settings: Settings) -> CheckResult:
    found = find(snap, settings)
    nodes = gpu_nodes.find(snap.nodes)
    if not found:
        return CheckResult.skip("GPU-DP-002", "no device plugin DaemonSet (see GPU-DP-001)")
    if not nodes:
        return CheckResult.skip("GPU-DP-002", "no GPU nodes (see GPU-INV-001)")
    findings = []
    pods = [p for ds in found for p in _owned_pods(snap, ds)]
    by_node: dict[str, list[Any]] = {}
    for p in pods:
        by_node.setdefault(p.spec.node_name or "", []).append(p)
    for ds in found:
        st = ds.status
        counts = {"desired": st.desired_number_scheduled, "ready": st.number_ready,
                  "available": st.number_available or 0}
        if not (counts["desired"] == counts["ready"] == counts["available"]):
            findings.append(Finding(Status.FAIL, f"{_ref(ds)}: desired {counts['desired']}, ready "
                                    f"{counts['ready']}, available {counts['available']}", _ref(ds), counts))
    for g in nodes:
        on_node = by_node.get(g.name, [])
        ready_pods = [p for p in on_node if _pod_ready(p)]
        if not ready_pods:
            why = "no device plugin pod" if not on_node else "device plugin pod " + ", ".join(
                f"{p.metadata.name} not Ready ({_waiting_reason(p)})" for p in on_node)
            findings.append(Finding(Status.FAIL, f"{g.name}: {why}", f"Node/{g.name}",
                                    {"pods": [p.metadata.name for p in on_node]}))
            continue
        restarts = max(sum(cs.restart_count for cs in (p.status.container_statuses or [])) for p in ready_pods)
        if restarts > settings.max_plugin_restarts:
            findings.append(Finding(Status.WARN, f"{g.name}: device plugin restarted {restarts} times",
                                    f"Pod/{ready_pods[0].metadata.namespace}/{ready_pods[0].metadata.name}",
                                    {"restarts": restarts}))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: device plugin Ready", f"Node/{g.name}"))
    bad = [f for f in findings if f.status == Status.FAIL and f.object.startswith("Node/")]
    # Every node may have a Ready pod while the DaemonSet's own counts disagree (pods on
    # nodes gpucheck does not count as GPU nodes, a rollout in progress): say so.
    counts = [f.message for f in findings if f.status == Status.FAIL and f.object.startswith("DaemonSet/")]
    if bad:
        summary = (f"device plugin not Ready on {len(bad)} of {len(nodes)} GPU nodes: "
                   + ", ".join(f.object.split("/", 1)[1] for f in bad))
    elif counts:
        summary = "; ".join(counts)
    else:
        summary = f"Ready on all {len(nodes)} GPU nodes"
    return CheckResult.of("GPU-DP-002", findings, summary)


def _waiting_reason(p: Any) -> str:
    for cs in p.status.container_statuses or []:
        if cs.state and cs.state.waiting:
            return cs.state.waiting.reason or "waiting"
    return p.status.phase or "unknown"


def tolerates(taint: Any, tolerations: list[Any]) -> bool:
    for t in tolerations or []:
        if t.effect and t.effect != taint.effect:
            continue
        if t.operator == "Exists":
            if not t.key or t.key == taint.key:
                return True
        elif t.key == taint.key and (t.value or "") == (taint.value or ""):
            return True
    return False


def tolerations(snap: Snapshot, settings: Settings) -> CheckResult:
    found = find(snap, settings)
    nodes = gpu_nodes.find(snap.nodes)
    if not found:
        return CheckResult.skip("GPU-DP-003", "no device plugin DaemonSet (see GPU-DP-001)")
    findings = []
    for ds in found:
        tols = ds.spec.template.spec.tolerations or []
        missing: dict[str, list[str]] = {}
        for g in nodes:
            for taint in g.node.spec.taints or []:
                if taint.effect in ("NoSchedule", "NoExecute") and not taint.key.startswith("node.kubernetes.io/") \
                        and not tolerates(taint, tols):
                    missing.setdefault(f"{taint.key}={taint.value or ''}:{taint.effect}", []).append(g.name)
        if missing:
            for taint, names in sorted(missing.items()):
                findings.append(Finding(Status.FAIL, f"{_ref(ds)} does not tolerate {taint} "
                                        f"(on {len(names)} GPU node(s))", _ref(ds),
                                        {"taint": taint, "nodes": names}))
        else:
            findings.append(Finding(Status.PASS, f"{_ref(ds)} tolerates every GPU node taint", _ref(ds)))
    bad = [f for f in findings if f.status == Status.FAIL]
    return CheckResult.of("GPU-DP-003", findings,
                          "; ".join(f.message for f in bad) if bad else "GPU taints tolerated")
