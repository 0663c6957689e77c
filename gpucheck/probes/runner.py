"""Run many probe pods in parallel, bounded, in the run's workspace."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ClusterError
from gpucheck.cluster.podrun import PodOutcome, run_pod
from gpucheck.cluster.workspace import Workspace
from gpucheck.config import Settings


@dataclass
class ProbeRun:
    target: str  # node name
    pool: str
    outcome: PodOutcome | None
    error: ClusterError | None = None
    extra: Any = None  # what the probe derived (a parsed nvidia-smi report, ...)


def run_many(cluster: Cluster, ws: Workspace, settings: Settings, jobs: list[tuple[str, str, dict[str, Any]]],
             stop_when_unschedulable: bool = True,
             derive: Callable[[PodOutcome], Any] | None = None) -> list[ProbeRun]:
    """jobs: (node, pool, pod body). Returns one ProbeRun per job, in order."""
    namespace = ws.ensure()
    cancel = threading.Event()

    def one(job: tuple[str, str, dict[str, Any]]) -> ProbeRun:
        node, pool, body = job
        try:
            out = run_pod(cluster, namespace, body, schedule_timeout=settings.schedule_timeout,
                          startup_timeout=settings.startup_timeout,
                          stop_when_unschedulable=stop_when_unschedulable, cancel=cancel)
        except ClusterError as exc:
            return ProbeRun(node, pool, None, exc)
        return ProbeRun(node, pool, out, None, derive(out) if derive else None)

    pool = ThreadPoolExecutor(max_workers=settings.probe_parallelism, thread_name_prefix="probe")
    try:
        return list(pool.map(one, jobs))
    except BaseException:
        # Ctrl-C or a crash: in-flight probes stop waiting and delete their pods; the run's
        # workspace removal catches anything they miss.
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
