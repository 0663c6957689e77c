"""What a sweep will ask of the cluster: which pool, how its pods are placed, how many can run
at once, and what the stages of the ramp are. Pure functions over the snapshot's nodes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gpucheck.cluster.view import View
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.device_plugin import tolerates
from gpucheck.probes.specs import tolerations_for


@dataclass(frozen=True)
class SweepPlan:
    pool: str
    experiments: int
    gpus_per_pod: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    gpu_slots: int  # allocatable nvidia.com/gpu on the pool's Ready, schedulable nodes
    max_active: int  # the DAG's max_active_tis_per_dag
    duration_s: float
    stages: tuple[int, ...] = field(default_factory=tuple)
    schedule_timeout: float = 300.0  # KPO's schedule_timeout_seconds: how long a pod may stay Pending
    untolerated: tuple[str, ...] = ()  # the pool's taints the sweep's tolerations miss

    @property
    def pod_slots(self) -> int:
        return self.gpu_slots // self.gpus_per_pod

    def cap(self) -> int:
        """Pods that can run at once: the tighter of GPU slots and Airflow's limit."""
        return max(min(self.pod_slots, self.max_active), 0)

    def ideal_makespan(self, experiments: int) -> float:
        """Waves of `cap` pods, each as long as one experiment (scheduling and start-up free)."""
        cap = self.cap()
        return math.ceil(experiments / cap) * self.duration_s if cap else math.inf

    def to_json(self) -> dict[str, Any]:
        return {"pool": self.pool, "experiments": self.experiments, "gpus_per_pod": self.gpus_per_pod,
                "node_selector": self.node_selector, "gpu_slots": self.gpu_slots, "max_active": self.max_active,
                "cap": self.cap(), "stages": list(self.stages), "duration_s": self.duration_s}


class PlanError(ValueError):
    """No sweep can be planned (no GPU pool, an unknown pool); the message says why."""


def pool_selector(g: gpu_nodes.GpuNode) -> dict[str, str]:
    """The node selector that picks g's pool the way a team's KPO task would."""
    for key in ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator", "node.kubernetes.io/instance-type"):
        if g.labels.get(key) == g.pool:
            return {key: g.pool}
    return {"kubernetes.io/hostname": g.labels.get("kubernetes.io/hostname", g.name)}


def stages(ramp: list[int], experiments: int) -> tuple[int, ...]:
    """The ramp's stages below the full size, then the full size."""
    return tuple(sorted({n for n in ramp if 0 < n < experiments})) + (experiments,)


def make(nodes: list[Any], sweep: Any) -> SweepPlan:
    """Plan the sweep from the `sweep:` settings and the cluster's GPU nodes."""
    pools: dict[str, list[gpu_nodes.GpuNode]] = {}
    for g in gpu_nodes.find(nodes):
        if gpu_nodes.is_ready(g.node) and not g.node.spec.unschedulable and gpu_nodes.mig_strategy(g.node) != "mixed":
            pools.setdefault(g.pool, []).append(g)
    if not pools:
        raise PlanError("no Ready, schedulable GPU node advertises whole nvidia.com/gpu to run a sweep on")

    def slots(members: list[gpu_nodes.GpuNode]) -> int:
        return sum(gpu_nodes.gpu_resources(g.node.status.allocatable).get("nvidia.com/gpu", 0) for g in members)

    if sweep.pool:
        if sweep.pool not in pools:
            raise PlanError(f"sweep.pool {sweep.pool!r} is not a usable GPU pool; pools: {', '.join(sorted(pools))}")
        name = sweep.pool
    else:
        name = max(sorted(pools), key=lambda p: slots(pools[p]))
    members = pools[name]
    tolerations = sweep.tolerations if sweep.tolerations is not None else tolerations_for(members[0].node)
    missed = sorted({f"{t.key}={t.value or ''}:{t.effect}" for g in members for t in g.node.spec.taints or []
                     if t.effect in ("NoSchedule", "NoExecute") and not tolerates(t, [View(x) for x in tolerations])})
    return SweepPlan(pool=name, experiments=sweep.experiments, gpus_per_pod=sweep.gpusPerPod,
                     node_selector=pool_selector(members[0]), tolerations=list(tolerations),
                     gpu_slots=slots(members), max_active=sweep.maxActive,
                     duration_s=float(sweep.duration.rstrip("s")), stages=stages(sweep.ramp, sweep.experiments),
                     schedule_timeout=sweep.scheduleTimeout, untolerated=tuple(missed))
