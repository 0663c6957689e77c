"""GPU-DRV-001 (one driver and CUDA version per pool) and GPU-DRV-002 (minimum driver)."""

from __future__ import annotations

from collections import defaultdict

from gpucheck.config import Settings, driver_tuple
from gpucheck.inventory import gpu_nodes
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status


def driver_of(labels: dict[str, str]) -> str | None:
    full = labels.get("nvidia.com/cuda.driver-version.full")
    if full:
        return full
    parts = [labels.get(f"nvidia.com/cuda.driver.{k}") for k in ("major", "minor", "rev")]
    return ".".join(p for p in parts if p) if parts[0] else None


def cuda_of(labels: dict[str, str]) -> str | None:
    full = labels.get("nvidia.com/cuda.runtime-version.full")
    if full:
        return full
    major, minor = labels.get("nvidia.com/cuda.runtime.major"), labels.get("nvidia.com/cuda.runtime.minor")
    return f"{major}.{minor}" if major else None


def consistent(snap: Snapshot, settings: Settings) -> CheckResult:
    nodes = [g for g in gpu_nodes.find(snap.nodes) if driver_of(g.labels)]
    if not nodes:
        return CheckResult.skip("GPU-DRV-001", "no GPU node carries GFD driver labels")
    findings = []
    pools: dict[str, list[gpu_nodes.GpuNode]] = defaultdict(list)
    for g in nodes:
        pools[g.pool].append(g)
    for pool, members in sorted(pools.items()):
        versions: dict[tuple[str | None, str | None], list[str]] = defaultdict(list)
        for g in members:
            versions[(driver_of(g.labels), cuda_of(g.labels))].append(g.name)
        if len(versions) == 1:
            (drv, cuda), = versions
            findings.append(Finding(Status.PASS, f"pool {pool}: driver {drv}, CUDA {cuda} on {len(members)} node(s)",
                                    f"Pool/{pool}", {"driver": drv, "cuda": cuda}))
            continue
        # The pool's reference is its most common version; a tie goes to the newest driver,
        # the version a rollout moves towards.
        majority = max(versions.items(), key=lambda kv: (len(kv[1]), driver_tuple(kv[0][0] or "") or ()))[0]
        spread = "; ".join(f"{d} (CUDA {c}) on {', '.join(sorted(n))}" for (d, c), n in sorted(versions.items(), key=str))
        for (drv, cuda), names in sorted(versions.items(), key=lambda kv: str(kv[0])):
            if (drv, cuda) == majority:
                continue
            for n in names:
                findings.append(Finding(Status.FAIL, f"{n}: driver {drv}, CUDA {cuda}; pool {pool} runs driver "
                                        f"{majority[0]}, CUDA {majority[1]}", f"Node/{n}",
                                        {"driver": drv, "cuda": cuda, "pool_driver": majority[0],
                                         "pool_versions": spread}))
    bad = [f for f in findings if f.status == Status.FAIL]
    return CheckResult.of("GPU-DRV-001", findings,
                          f"{len(bad)} node(s) off their pool's driver: " + ", ".join(f.object[5:] for f in bad)
                          if bad else f"one driver per pool across {len(pools)} pool(s)")


def minimum(snap: Snapshot, settings: Settings) -> CheckResult:
    if not settings.min_driver:
        return CheckResult.skip("GPU-DRV-002", "no minimum driver configured (minDriver in the config file)")
    want = driver_tuple(settings.min_driver) or ()
    nodes = [g for g in gpu_nodes.find(snap.nodes) if driver_of(g.labels)]
    if not nodes:
        return CheckResult.skip("GPU-DRV-002", "no GPU node carries GFD driver labels")
    findings = []
    for g in nodes:
        drv = driver_of(g.labels) or ""
        have = driver_tuple(drv)
        if have is None or have < want:
            findings.append(Finding(Status.FAIL, f"{g.name}: driver {drv} is below {settings.min_driver}",
                                    f"Node/{g.name}", {"driver": drv, "minimum": settings.min_driver}))
        else:
            findings.append(Finding(Status.PASS, f"{g.name}: driver {drv}", f"Node/{g.name}"))
    bad = [f for f in findings if f.status == Status.FAIL]
    return CheckResult.of("GPU-DRV-002", findings,
                          f"{len(bad)} node(s) below driver {settings.min_driver}" if bad
                          else f"all drivers >= {settings.min_driver}")
