"""Run one pod to its end: create, watch under separate schedule and startup budgets, read
its log, delete it. Fails fast on reasons that will not cure themselves.

Modelled on how KubernetesPodOperator waits (schedule timeout, then startup timeout), so a
probe fails the way a training task would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kubernetes import watch
from kubernetes.client.rest import ApiException

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure, DeadlineExceeded
from gpucheck.cluster.pods import read_log

FATAL_WAITING = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerError",
                 "CreateContainerConfigError", "RunContainerError", "CrashLoopBackOff"}


@dataclass
class PodOutcome:
    name: str
    node: str | None = None
    phase: str = "Unknown"
    reason: str = ""  # Unschedulable, ImagePullBackOff, ScheduleTimeout, StartupTimeout, Completed, Error
    message: str = ""
    exit_code: int | None = None
    log: str = ""
    times: dict[str, float] = field(default_factory=dict)  # seconds since create: scheduled, running, finished

    @property
    def succeeded(self) -> bool:
        return self.phase == "Succeeded"

    @property
    def total_s(self) -> float | None:
        return self.times.get("finished")


def run_pod(cluster: Cluster, namespace: str, body: dict[str, Any], *, schedule_timeout: float,
            startup_timeout: float, run_timeout: float = 120.0, stop_when_unschedulable: bool = True,
            keep: bool = False, cancel: threading.Event | None = None, logs: bool = True) -> PodOutcome:
    """Create `body` in `namespace` and follow it to Succeeded/Failed or a fatal state.
    Setting `cancel` (Ctrl-C elsewhere) ends the wait within a few seconds; the pod is
    deleted on every path unless `keep`. `logs=False` skips reading its log (a pod whose
    output nobody grades)."""
    cancel = cancel or threading.Event()
    core = cluster.core
    name = body["metadata"]["name"]
    out = PodOutcome(name=name)
    created = time.monotonic()
    try:
        cluster.call(core.create_namespaced_pod, namespace, body, verb="create", resource="pods")
    except ApiFailure as exc:
        # A create retried after a timeout may find its own first attempt: that pod is ours.
        if exc.status != 409 or not _ours(cluster, namespace, body):
            raise
    try:
        _follow(cluster, namespace, out, created, schedule_timeout, startup_timeout, run_timeout,
                stop_when_unschedulable, cancel)
        if logs and out.phase in ("Succeeded", "Failed"):
            out.log = cluster.call(read_log, core, name, namespace, verb="get", resource="pods/log")
    finally:
        if not keep:
            delete_pod(cluster, namespace, name)
    return out


def _ours(cluster: Cluster, namespace: str, body: dict[str, Any]) -> bool:
    pod = cluster.call(cluster.core.read_namespaced_pod, body["metadata"]["name"], namespace, verb="get",
                       resource="pods")
    want = body["metadata"].get("labels") or {}
    return all((pod.metadata.labels or {}).get(k) == v for k, v in want.items())


def delete_pod(cluster: Cluster, namespace: str, name: str) -> None:
    try:
        cluster.call(cluster.core.delete_namespaced_pod, namespace=namespace, name=name, verb="delete",
                     resource="pods", grace_period_seconds=0)
    except ApiFailure as exc:
        if exc.status != 404:
            raise


# Watches run in slices this long, so a cancel is noticed promptly.
_SLICE_S = 5


def _follow(cluster: Cluster, namespace: str, out: PodOutcome, created: float, schedule_timeout: float,
            startup_timeout: float, run_timeout: float, stop_when_unschedulable: bool,
            cancel: threading.Event) -> None:
    core = cluster.core
    selector = f"metadata.name={out.name}"
    rv = None
    while True:
        if cancel.is_set():
            out.reason, out.message = "Cancelled", "the run was interrupted"
            return
        budget = _budget(out, created, schedule_timeout, startup_timeout, run_timeout)
        if cluster.deadline is not None:
            budget = min(budget, cluster.deadline - time.monotonic())
        if budget <= 0:
            if cluster.deadline is not None and time.monotonic() >= cluster.deadline:
                raise DeadlineExceeded(f"the run's deadline passed while pod {out.name} was {out.phase}")
            out.reason = "ScheduleTimeout" if "scheduled" not in out.times else "StartupTimeout" \
                if "running" not in out.times else "RunTimeout"
            out.message = out.message or f"pod still {out.phase} after its budget"
            return
        w = watch.Watch()
        try:
            kwargs: dict[str, Any] = {"field_selector": selector,
                                      "timeout_seconds": max(1, int(min(budget, _SLICE_S)))}
            if rv:
                kwargs["resource_version"] = rv
            cluster.requests += 1
            for ev in w.stream(core.list_namespaced_pod, namespace, **kwargs):
                pod = ev["object"]
                if isinstance(pod, dict):  # ERROR event (410 Gone): relist
                    rv = None
                    break
                rv = pod.metadata.resource_version
                if ev["type"] == "DELETED":
                    out.phase, out.reason = "Deleted", "Deleted"
                    out.message = "the pod was deleted by someone else while gpucheck waited for it"
                    return
                if _observe(pod, out, created, stop_when_unschedulable):
                    return
                if cancel.is_set() or _budget(out, created, schedule_timeout, startup_timeout, run_timeout) <= 0:
                    break
        except ApiException as exc:
            if exc.status == 403:
                raise cluster.denied(exc, "watch", "pods") from None
            if exc.status != 410:
                raise
            rv = None
        except Exception as exc:  # a dropped watch is resumed; anything else is the caller's
            if "410" not in str(exc) and not isinstance(exc, (OSError, ConnectionError)):
                raise
            rv = None
        finally:
            w.stop()


def _budget(out: PodOutcome, created: float, schedule_timeout: float, startup_timeout: float,
            run_timeout: float) -> float:
    now = time.monotonic() - created
    if "scheduled" not in out.times:
        return schedule_timeout - now
    if "running" not in out.times:
        return out.times["scheduled"] + startup_timeout - now
    return out.times["running"] + run_timeout - now


def _observe(pod: Any, out: PodOutcome, created: float, stop_when_unschedulable: bool) -> bool:
    """Record what the pod shows; True when there is nothing more to wait for."""
    now = round(time.monotonic() - created, 3)
    st = pod.status
    out.phase = st.phase or "Unknown"
    out.node = pod.spec.node_name
    for c in st.conditions or []:
        if c.type == "PodScheduled":
            if c.status == "True":
                out.times.setdefault("scheduled", now)
            elif c.reason == "Unschedulable":
                out.reason, out.message = "Unschedulable", c.message or ""
                if stop_when_unschedulable:
                    return True
    for cs in st.container_statuses or []:
        state = cs.state
        if state and state.running:
            out.times.setdefault("running", now)
        if state and state.waiting and state.waiting.reason in FATAL_WAITING:
            out.reason, out.message = state.waiting.reason, state.waiting.message or ""
            return True
        if state and state.terminated:
            out.times.setdefault("running", now)
            out.exit_code = state.terminated.exit_code
            out.reason = state.terminated.reason or ""
            out.message = state.terminated.message or ""
    if out.phase in ("Succeeded", "Failed"):
        out.times["finished"] = now
        return True
    return False
