"""GPU-NS-001 (the training namespace's GPU quota leaves headroom) and GPU-NS-002 (a
PriorityClass for training pods exists). The namespace is the one the team's
KubernetesPodOperator tasks run in (training.namespace, "default" like KPO's own default)."""

from __future__ import annotations

from gpucheck.config import Settings
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status

# Quota keys that cap GPUs: extended resources are only quotable as requests.
GPU_KEYS = ("requests.nvidia.com/gpu",)


def _gpu_limits(quota) -> dict[str, tuple[int, int]]:
    """Quota key -> (hard, used) for GPU keys, mig-* slices included."""
    hard = (quota.status.hard if quota.status and quota.status.hard else None) or quota.spec.hard or {}
    used = (quota.status.used if quota.status else None) or {}
    return {k: (gpu_nodes.qty(v), gpu_nodes.qty(used.get(k, 0))) for k, v in hard.items()
            if k in GPU_KEYS or k.startswith("requests.nvidia.com/mig-")}


def quota_headroom(snap: Snapshot, settings: Settings) -> CheckResult:
    ns = settings.training_namespace
    quotas = [q for q in snap.resourcequotas if q.metadata.namespace == ns and _gpu_limits(q)]
    if not quotas:
        return CheckResult.of("GPU-NS-001", [Finding(
            Status.PASS, f"no ResourceQuota caps GPUs in namespace {ns}; the cluster's free GPUs are the limit",
            f"Namespace/{ns}")], f"no GPU quota in namespace {ns}")
    findings = []
    for q in quotas:
        obj = f"ResourceQuota/{ns}/{q.metadata.name}"
        for key, (hard, used) in sorted(_gpu_limits(q).items()):
            room = hard - used
            ev = {"key": key, "hard": hard, "used": used, "headroom": room}
            if room < settings.min_gpu_headroom:
                findings.append(Finding(Status.FAIL, f"{q.metadata.name}: {key} {used} of {hard} used, headroom {room} "
                                        f"(need {settings.min_gpu_headroom}): training pods in {ns} will be refused",
                                        obj, ev))
            else:
                findings.append(Finding(Status.PASS, f"{q.metadata.name}: {key} {used} of {hard} used, headroom {room}",
                                        obj, ev))
    bad = [f for f in findings if f.status == Status.FAIL]
    return CheckResult.of("GPU-NS-001", findings, "; ".join(f.message for f in bad) if bad
                          else "; ".join(f.message for f in findings))


def priority_class(snap: Snapshot, settings: Settings) -> CheckResult:
    classes = {pc.metadata.name: pc for pc in snap.priorityclasses}
    wanted = settings.training_priority_class
    if wanted:
        pc = classes.get(wanted)
        if pc is None:
            return CheckResult.of("GPU-NS-002", [Finding(
                Status.FAIL, f"PriorityClass {wanted} (training.priorityClass) does not exist: pods naming it are "
                "rejected at admission", f"PriorityClass/{wanted}")], f"PriorityClass {wanted} missing")
        return CheckResult.of("GPU-NS-002", [Finding(
            Status.PASS, f"PriorityClass {wanted}: value {pc.value}, preemption "
            f"{pc.preemption_policy or 'PreemptLowerPriority'}", f"PriorityClass/{wanted}")],
            f"PriorityClass {wanted} exists (value {pc.value})")
    own = sorted((n for n in classes if not n.startswith("system-")), key=lambda n: -(classes[n].value or 0))
    if not own:
        return CheckResult.of("GPU-NS-002", [Finding(
            Status.WARN, "no PriorityClass besides the system ones: GPU training pods run at priority 0 and cannot "
            "be ordered against other work", "PriorityClass")], "no PriorityClass for workloads")
    default = next((n for n in own if classes[n].global_default), None)
    text = ", ".join(f"{n} ({classes[n].value})" for n in own)
    return CheckResult.of("GPU-NS-002", [Finding(
        Status.PASS, f"PriorityClasses: {text}" + (f"; global default {default}" if default else "")
        + "; set training.priorityClass to check the one your tasks use", "PriorityClass")],
        f"{len(own)} PriorityClass(es): {text}")
