"""Benchmark: how fast the simulated cluster comes up.

    python bench/sim_startup.py                 # warm start of `default` (3 runs) and `large`
    python bench/sim_startup.py --cold          # plus a cold build into a fresh cache dir

Warm start is measured from `gpucheck.sim.cluster.up` to every node Ready and the device
plugin Ready on every GPU node (the function returns only then). The cold build uses fresh,
empty GOCACHE and GOMODCACHE directories, so it includes every module download and compile,
as on a new machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from gpucheck.sim import binaries, cluster


def timed_up(name: str, profile: str) -> float:
    started = time.monotonic()
    cluster.up(name=name, profile=profile, say=lambda s: None, timeout=600)
    elapsed = time.monotonic() - started
    cluster.down(name)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", action="store_true", help="also time a cold build of all binaries")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.cold:
        with tempfile.TemporaryDirectory() as tmp:
            saved = {k: os.environ.get(k) for k in ("GPUCHECK_CACHE_DIR", "GOCACHE", "GOMODCACHE")}
            os.environ.update(GPUCHECK_CACHE_DIR=f"{tmp}/bin", GOCACHE=f"{tmp}/gocache",
                              GOMODCACHE=f"{tmp}/gomod")
            total = 0.0
            for comp in binaries.COMPONENTS.values():
                t = time.monotonic()
                binaries.build(comp, progress=lambda s: None)
                total += time.monotonic() - t
                print(f"cold build {comp.name} {comp.version}: {time.monotonic() - t:.0f}s", flush=True)
            print(f"cold build, all binaries: {total:.0f}s", flush=True)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    binaries.ensure_all(progress=print)
    runs = [timed_up(f"bench-{os.getpid()}", "default") for _ in range(args.runs)]
    print(f"warm start, default profile (7 nodes): median {statistics.median(runs):.1f}s "
          f"(runs: {', '.join(f'{r:.1f}' for r in runs)})")
    large = timed_up(f"bench-large-{os.getpid()}", "large")
    print(f"start, large profile (600 nodes, 550 GPU): {large:.1f}s")


if __name__ == "__main__":
    main()
