"""Benchmark: wall time of the checks against simulated clusters.

    python bench/checks.py                      # quick profile at 10, 100, 1000 GPU nodes; standard on default
    python bench/checks.py --sizes 10 100       # fewer sizes

Quick profile: connect, one snapshot (paginated LISTs) and every API-only analyzer, timed
in-process from connect to the last result (target: under 3 s at 1000 GPU nodes). Standard
profile: the same plus every probe pod, and the workspace removed (target: under 60 s on the
default profile). Cluster start-up is not included.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import yaml

from gpucheck.config import resolve
from gpucheck.run import RunState
from gpucheck.sim import cluster, expectations_file, profiles


def sized_profile(gpu_nodes: int, path: str) -> str:
    """The default fleet's H100 pool scaled to `gpu_nodes`, plus two CPU nodes."""
    data = yaml.safe_load(open(profiles.__file__.replace("profiles.py", "profiles/default.yaml")))
    h100 = next(p for p in data["pools"] if p["name"] == "h100")
    cpu = next(p for p in data["pools"] if p["name"] == "cpu")
    h100["count"] = gpu_nodes
    data.update(name=f"h100-x{gpu_nodes}", pools=[h100, cpu])
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)
    return path


def run(kubeconfig: str, profile: str) -> tuple[float, int, dict[str, str]]:
    started = time.monotonic()
    state = RunState(resolve(cli={"kubeconfig": kubeconfig, "profile": profile, "config_file": expectations_file()},
                             env={}))
    results = {cid: state.evaluate(cid) for cid in state.expected() if not cid.startswith("GPU-SWEEP-")}
    state.cleanup()
    elapsed = time.monotonic() - started
    return elapsed, state.cluster().requests, {c: r.status.value for c, r in results.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 100, 1000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            name = f"bench-q{n}-{os.getpid()}"
            info = cluster.up(name=name, profile=sized_profile(n, f"{tmp}/p{n}.yaml"), say=lambda s: None,
                              timeout=900)
            try:
                runs = [run(str(info.kubeconfig), "quick") for _ in range(3)]
                best = min(r[0] for r in runs)
                bad = {c: s for c, s in runs[0][2].items() if s not in ("PASS", "SKIP")}
                print(f"quick profile, {n} GPU nodes: best of 3 {best:.2f}s, {runs[0][1]} API requests"
                      + (f", NOT CLEAN: {bad}" if bad else ""), flush=True)
            finally:
                cluster.down(name)
    name = f"bench-std-{os.getpid()}"
    info = cluster.up(name=name, say=lambda s: None)
    try:
        elapsed, requests, statuses = run(str(info.kubeconfig), "standard")
        bad = {c: s for c, s in statuses.items() if s not in ("PASS", "SKIP")}
        print(f"standard profile, default sim ({len(statuses)} checks): {elapsed:.1f}s, {requests} API requests"
              + (f", NOT CLEAN: {bad}" if bad else ""), flush=True)
    finally:
        cluster.down(name)


if __name__ == "__main__":
    main()
