"""A baseline as a person reads it (`gpucheck baseline show FILE`)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping

from gpucheck.baseline.store import Baseline


def _resources(res: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(res.items())) or "no GPU resource"


def _mig(m: Mapping[str, Any]) -> str:
    if m["strategy"] == "none":
        return ""
    slices = ", ".join(f"{p} x{n}" for p, n in sorted(m["slices"].items()))
    return f"  MIG {m['strategy']}" + (f" {m['config']}" if m.get("config") else "") + (f" ({slices})" if slices else "")


def lines(b: Baseline) -> list[str]:
    fp = b.fingerprint
    counts = Counter(c["status"] for c in b.checks.values())
    out = [f"baseline of {b.server or 'an unknown server'}, saved {b.created_at} by gpucheck {b.gpucheck_version}",
           f"profile {b.profile}, verdict {b.verdict}; {len(fp['nodes'])} GPU node(s) in {len(fp['pools'])} pool(s)", ""]
    for name, pool in fp["pools"].items():
        out.append(f"pool {name}: {len(pool['nodes'])} node(s), allocatable {_resources(pool['allocatable'])}; "
                   f"driver {', '.join(pool['drivers']) or 'unknown'}, CUDA {', '.join(pool['cuda']) or 'unknown'}")
        for node in pool["nodes"]:
            n = fp["nodes"][node]
            alloc = ", ".join(f"{k} {n['allocatable'].get(k, 0)}/{v}" for k, v in sorted(n["capacity"].items())) \
                or "no GPU resource"
            out.append(f"  {node}: {alloc} (allocatable/capacity)  driver {n['driver'] or 'unknown'}  "
                       f"CUDA {n['cuda'] or 'unknown'}{_mig(n['mig'])}  taints {', '.join(n['taints']) or 'none'}")
    out.append("")
    if fp["device_plugins"]:
        for ref, dp in fp["device_plugins"].items():
            out.append(f"device plugin {ref}: {dp['image']}")
    else:
        out.append("device plugin: none found")
    out += ["", "checks: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    width = max((len(cid) for cid in b.checks), default=10)
    out += [f"  {c['status']:<5}  {cid:<{width}}  {c['summary']}" for cid, c in sorted(b.checks.items())]
    return out
