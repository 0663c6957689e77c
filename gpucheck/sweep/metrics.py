"""Per-pod timelines of a sweep, measured from Kubernetes, reduced to what the report shows:
scheduling latency, peak concurrency, Pending reasons, makespan. Pure functions."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PodTimeline:
    """Wall-clock times (time.time()) at which the watch saw each step of one pod."""

    name: str
    experiment: str = ""
    created: float | None = None
    scheduled: float | None = None
    running: float | None = None
    finished: float | None = None
    deleted: float | None = None
    phase: str = "Pending"
    node: str | None = None
    pending_reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "experiment", "created", "scheduled", "running", "finished",
                                               "deleted", "phase", "node", "pending_reasons")}


def classify(message: str) -> str:
    """A scheduler or admission message -> the reason a sweep pod waited."""
    m = message.lower()
    if "insufficient nvidia.com/" in m:
        return "insufficient GPUs"
    taint = re.search(r"untolerated taint[^{]*\{([^}]*)\}", message)
    if taint:
        return f"untolerated taint {{{taint.group(1)}}}"
    if "untolerated taint" in m:
        return "untolerated taint"
    if "exceeded quota" in m:
        return "quota"
    if "didn't match pod's node affinity/selector" in m or "node(s) didn't match node selector" in m:
        return "node selector matches no node"
    return message.split(".")[0][:120] or "unknown"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); the max for q=100."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def peak_concurrency(timelines: list[PodTimeline]) -> int:
    """Most pods running at the same moment."""
    events = []
    for t in timelines:
        if t.running is not None:
            events.append((t.running, 1))
            events.append((t.finished or t.deleted or math.inf, -1))
    peak = cur = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        cur += delta
        peak = max(peak, cur)
    return peak


@dataclass(frozen=True)
class StageMetrics:
    experiments: int
    pods: int
    succeeded: int
    latency_p50: float
    latency_p95: float
    latency_max: float
    peak: int
    makespan: float
    pending_reasons: dict[str, int]
    never_scheduled: int

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}


def reduce(experiments: int, timelines: list[PodTimeline]) -> StageMetrics:
    lat = [t.scheduled - t.created for t in timelines if t.scheduled is not None and t.created is not None]
    starts = [t.created for t in timelines if t.created is not None]
    ends = [t.finished for t in timelines if t.finished is not None]
    reasons = Counter(r for t in timelines for r in set(t.pending_reasons))
    return StageMetrics(
        experiments=experiments, pods=len(timelines),
        succeeded=sum(1 for t in timelines if t.phase == "Succeeded"),
        latency_p50=percentile(lat, 50), latency_p95=percentile(lat, 95), latency_max=percentile(lat, 100),
        peak=peak_concurrency(timelines),
        makespan=(max(ends) - min(starts)) if starts and ends else math.nan,
        pending_reasons=dict(reasons), never_scheduled=sum(1 for t in timelines if t.scheduled is None))
