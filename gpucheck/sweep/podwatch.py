"""Watch a sweep's pods and record when each was created, scheduled, started, finished and
deleted, as seen from the API server (one watch, resumed from its resourceVersion when the
server drops it, relisted when the version is too old)."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from gpucheck.cluster.client import Cluster
from gpucheck.sweep.metrics import PodTimeline, classify

EXPERIMENT_LABEL = "gpucheck.dev/experiment"


class PodWatch:
    """Records PodTimelines for pods matching `selector` in `namespace` until stopped.

    `on_change(timeline, pod)` runs in the watch thread after every recorded change (the
    preemption drill deletes pods from there)."""

    def __init__(self, cluster: Cluster, namespace: str, selector: str,
                 on_change: Callable[[PodTimeline, Any], None] | None = None):
        self.cluster, self.namespace, self.selector = cluster, namespace, selector
        self.on_change = on_change
        self.timelines: dict[str, PodTimeline] = {}
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sweep-podwatch", daemon=True)
        self._changed = threading.Condition(self._lock)

    def start(self) -> "PodWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def snapshot(self) -> list[PodTimeline]:
        with self._lock:
            return [PodTimeline(**t.__dict__) for t in self.timelines.values()]

    def live(self) -> list[str]:
        """Pods seen and not yet deleted."""
        with self._lock:
            return [t.name for t in self.timelines.values() if t.deleted is None]

    def wait_until(self, predicate: Callable[[list[PodTimeline]], bool], timeout: float) -> bool:
        """Block until predicate(timelines) holds (re-checked on every change) or the timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(list(self.timelines.values())):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 1.0))
        return True

    # -- the watch thread ----------------------------------------------------------------------
    def _run(self) -> None:
        rv = None
        while not self._stop.is_set():
            try:
                if rv is None:
                    pods = self.cluster.call(self.cluster.core.list_namespaced_pod, self.namespace,
                                             label_selector=self.selector, verb="list", resource="pods")
                    for p in pods.items:
                        self._record("ADDED", p)
                    rv = pods.metadata.resource_version
                w = watch.Watch()
                for ev in w.stream(self.cluster.core.list_namespaced_pod, self.namespace, label_selector=self.selector,
                                   resource_version=rv, timeout_seconds=30, allow_watch_bookmarks=True,
                                   _request_timeout=40):
                    obj = ev["object"]
                    if ev["type"] == "BOOKMARK":
                        rv = obj.metadata.resource_version
                        continue
                    if ev["type"] == "ERROR":
                        rv = None
                        break
                    rv = obj.metadata.resource_version
                    self._record(ev["type"], obj)
                    if self._stop.is_set():
                        w.stop()
                        break
            except ApiException as exc:
                if exc.status == 410:
                    rv = None
                    continue
                self.error = exc
                self._stop.wait(1)
            except Exception as exc:  # a dropped stream: resume from rv
                self.error = exc
                self._stop.wait(0.5)

    def _record(self, kind: str, pod: Any) -> None:
        now = time.time()
        name = pod.metadata.name
        with self._changed:
            t = self.timelines.get(name)
            if t is None:
                t = self.timelines[name] = PodTimeline(
                    name, (pod.metadata.labels or {}).get(EXPERIMENT_LABEL, ""), created=now)
            if kind == "DELETED":
                t.deleted = t.deleted or now
            if pod.spec.node_name and t.scheduled is None:
                t.scheduled, t.node = now, pod.spec.node_name
            for c in (pod.status.conditions or []) if pod.status else []:
                if c.type == "PodScheduled" and c.status == "False" and c.message:
                    reason = classify(c.message)
                    if reason not in t.pending_reasons:
                        t.pending_reasons.append(reason)
            phase = pod.status.phase if pod.status else None
            if phase:
                t.phase = phase
            if phase == "Running" and t.running is None:
                t.running = now
            if phase in ("Succeeded", "Failed") and t.finished is None:
                t.finished = now
            self._changed.notify_all()
        if self.on_change is not None:
            self.on_change(t, pod)
