"""Benchmark: the Airflow-driven sweep against direct pod creation, on one simulated cluster.

    python bench/sweep.py                    # 50 experiments of 10 s on the default sim's H100 pool
    python bench/sweep.py --experiments 100 --duration 5s

The Airflow side is gpucheck's own sweep (local Airflow, LocalExecutor on PostgreSQL, the
bundled DAG, max_active_tis_per_dag 16). The direct side creates the same N pods (same GPU
request, tolerations, node selector, simulated duration) at once and lets the scheduler queue
them: the cluster's own limit. Both are measured by the same pod watch, from the first pod
created to the last one finished. Start-up of the cluster and of Airflow is not included.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

from gpucheck.cluster.client import connect
from gpucheck.cluster.workspace import Workspace
from gpucheck.config import resolve
from gpucheck.inventory.snapshot import take
from gpucheck.sim import cluster
from gpucheck.sweep import plan as planning, runner
from gpucheck.sweep.metrics import reduce
from gpucheck.sweep.podwatch import PodWatch


def direct(c, ws: Workspace, p: planning.SweepPlan, n: int, duration: str) -> tuple[float, int]:
    ns = ws.ensure()
    selector = f"{ws.selector},gpucheck.dev/bench=direct"
    watch = PodWatch(c, ns, selector).start()
    try:
        for i in range(n):
            body = {"metadata": {"name": f"direct-{i}", "labels": {**ws.labels, "gpucheck.dev/bench": "direct"},
                                 "annotations": {"sim.gpucheck.io/duration": duration}},
                    "spec": {"restartPolicy": "Never", "nodeSelector": p.node_selector, "tolerations": p.tolerations,
                             "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                                 "seccompProfile": {"type": "RuntimeDefault"}},
                             "containers": [{"name": "train", "image": "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
                                             "command": ["nvidia-smi", "-L"],
                                             "resources": {"limits": {"nvidia.com/gpu": str(p.gpus_per_pod)}},
                                             "securityContext": {"allowPrivilegeEscalation": False,
                                                                 "capabilities": {"drop": ["ALL"]}}}]}}
            c.call(c.core.create_namespaced_pod, ns, body, verb="create", resource="pods")
        watch.wait_until(lambda ts: len(ts) == n and all(t.finished for t in ts), timeout=1800)
    finally:
        watch.stop()
        c.core.delete_collection_namespaced_pod(ns, label_selector=selector, grace_period_seconds=0)
    m = reduce(n, watch.snapshot())
    return m.makespan, m.peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiments", type=int, default=50)
    ap.add_argument("--duration", default="10s")
    args = ap.parse_args()
    name = f"bench-sweep-{os.getpid()}"
    info = cluster.up(name=name, say=lambda s: None)
    try:
        c = connect(str(info.kubeconfig))
        settings = resolve(cli={"kubeconfig": str(info.kubeconfig)}, env={})
        sweep = settings.sweep.model_copy(update={"experiments": args.experiments, "ramp": [],
                                                  "duration": args.duration})
        settings = dataclasses.replace(settings, sweep=sweep)
        nodes = take(c).nodes
        p = planning.make(nodes, sweep)
        ws = Workspace(c, f"bench{os.getpid()}")
        try:
            started = time.monotonic()
            result = runner.run(c, ws.ensure(), nodes, settings, ws.run_id, str(info.kubeconfig))
            total = time.monotonic() - started
            if result.error or not result.stages or not result.stages[-1].ok:
                raise SystemExit(f"the Airflow sweep did not complete: {result.error or result.stages[-1].state}")
            stage = result.stages[-1]
            d_makespan, d_peak = direct(c, ws, p, args.experiments, args.duration)
        finally:
            ws.remove()
        a = stage.metrics
        print(f"{args.experiments} experiments of {args.duration}, pool {p.pool} ({p.gpu_slots} GPUs), "
              f"ideal makespan {p.ideal_makespan(args.experiments):.0f}s at cap {p.cap()}")
        print(f"  Airflow sweep: makespan {a.makespan:.1f}s, peak {a.peak} concurrent, DAG run {stage.run_seconds:.1f}s, "
              f"with Airflow start-up {total:.0f}s")
        print(f"  direct pods:   makespan {d_makespan:.1f}s, peak {d_peak} concurrent")
        print(f"  ratio Airflow/direct makespan: {a.makespan / d_makespan:.2f}")
    finally:
        cluster.down(name)


if __name__ == "__main__":
    main()
