"""Node profiles: YAML fleet descriptions turned into KWOK Node objects.

A profile names pools of identical nodes. GPU pools carry what GPU Feature Discovery and the
device plugin would publish on a real node (labels, capacity, allocatable), so the inventory
checks read the same fields they read on a production cluster.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SIM_ANN = "sim.gpucheck.io/"
KWOK_NODE_ANN = "kwok.x-k8s.io/node"
POOL_LABEL = "sim.gpucheck.io/pool"

# Per-profile memory in MiB and multiprocessors, as GFD labels them for an A100 80GB.
_MIG_MEMORY_MIB = {"1g.10gb": 9728, "1g.20gb": 19968, "2g.20gb": 19968, "3g.40gb": 40192,
                   "4g.40gb": 40192, "7g.80gb": 80384, "1g.5gb": 4864, "2g.10gb": 9856,
                   "3g.20gb": 19968, "4g.20gb": 19968, "7g.40gb": 40192}


class ProfileError(ValueError):
    """A profile name or file is unknown or malformed; the message lists what is valid."""


@dataclass(frozen=True)
class Gpu:
    product: str
    count: int
    memory_mib: int
    family: str
    compute: str
    driver: str
    cuda: str
    recording: str
    mig_strategy: str = "none"
    mig_config: str | None = None
    mig: dict[str, int] = field(default_factory=dict)  # profile -> slices per GPU


@dataclass(frozen=True)
class Pool:
    name: str
    count: int
    instance_type: str
    zone: str
    cpu: str
    memory: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    gpu: Gpu | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    pools: tuple[Pool, ...]

    @property
    def gpu_node_count(self) -> int:
        return sum(p.count for p in self.pools if p.gpu)

    @property
    def node_count(self) -> int:
        return sum(p.count for p in self.pools)


def builtin_names() -> list[str]:
    folder = resources.files("gpucheck.sim") / "profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load(name_or_path: str) -> Profile:
    """Load a built-in profile by name, or a profile file by path."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(f"profile file {name_or_path} does not exist")
        text, source = path.read_text(), str(path)
    else:
        names = builtin_names()
        if name_or_path not in names:
            raise ProfileError(
                f"unknown profile {name_or_path!r}; built-in profiles: {', '.join(names)} "
                "(or give the path of a profile YAML file)"
            )
        text = (resources.files("gpucheck.sim") / "profiles" / f"{name_or_path}.yaml").read_text()
        source = f"built-in profile {name_or_path}"
    try:
        return _from_dict(yaml.safe_load(text), source)
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"{source}: invalid profile: {exc}") from None


def _from_dict(data: dict[str, Any], source: str) -> Profile:
    if not isinstance(data, dict) or not isinstance(data.get("pools"), list) or not data["pools"]:
        raise ProfileError(f"{source}: a profile needs a non-empty 'pools' list")
    pools = []
    for raw in data["pools"]:
        g = raw.get("gpu")
        gpu = None
        if g:
            strategy = g.get("migStrategy", "none")
            if strategy not in ("none", "single", "mixed"):
                raise ProfileError(f"{source}: pool {raw['name']}: migStrategy must be none, single or mixed")
            gpu = Gpu(
                product=g["product"], count=int(g["count"]), memory_mib=int(g["memoryMiB"]),
                family=g["family"], compute=str(g["compute"]), driver=str(g["driver"]),
                cuda=str(g["cuda"]), recording=g["recording"], mig_strategy=strategy,
                mig_config=g.get("migConfig"), mig={str(k): int(v) for k, v in (g.get("mig") or {}).items()},
            )
        pools.append(Pool(
            name=raw["name"], count=int(raw["count"]), instance_type=raw["instanceType"],
            zone=raw.get("zone", "zone-a"), cpu=str(raw.get("cpu", "32")),
            memory=str(raw.get("memory", "256Gi")), labels=dict(raw.get("labels") or {}),
            taints=list(raw.get("taints") or []), gpu=gpu,
        ))
    names = [p.name for p in pools]
    if len(set(names)) != len(names):
        raise ProfileError(f"{source}: pool names must be unique")
    return Profile(name=str(data.get("name", source)), description=str(data.get("description", "")),
                   pools=tuple(pools))


def node_name(pool: Pool, index: int) -> str:
    prefix = f"gpu-{pool.name}" if pool.gpu else pool.name
    return f"{prefix}-{index}"


def gfd_labels(gpu: Gpu, now: int) -> dict[str, str]:
    major, minor, rev = (gpu.driver.split(".") + ["", ""])[:3]
    cmaj, cmin = gpu.cuda.split(".")[:2]
    comp_major, comp_minor = gpu.compute.split(".")
    labels = {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": gpu.product,
        "nvidia.com/gpu.count": str(gpu.count),
        "nvidia.com/gpu.memory": str(gpu.memory_mib),
        "nvidia.com/gpu.family": gpu.family,
        "nvidia.com/gpu.compute.major": comp_major,
        "nvidia.com/gpu.compute.minor": comp_minor,
        "nvidia.com/gpu.replicas": "1",
        "nvidia.com/gpu.sharing-strategy": "none",
        "nvidia.com/cuda.driver-version.full": gpu.driver,
        "nvidia.com/cuda.driver-version.major": major,
        "nvidia.com/cuda.driver-version.minor": minor,
        "nvidia.com/cuda.driver-version.revision": rev,
        "nvidia.com/cuda.driver.major": major,
        "nvidia.com/cuda.driver.minor": minor,
        "nvidia.com/cuda.driver.rev": rev,
        "nvidia.com/cuda.runtime-version.full": gpu.cuda,
        "nvidia.com/cuda.runtime-version.major": cmaj,
        "nvidia.com/cuda.runtime-version.minor": cmin,
        "nvidia.com/cuda.runtime.major": cmaj,
        "nvidia.com/cuda.runtime.minor": cmin,
        "nvidia.com/gfd.timestamp": str(now),
        "nvidia.com/mig.capable": "true" if gpu.family in ("ampere", "hopper", "blackwell") else "false",
        "nvidia.com/mig.strategy": gpu.mig_strategy,
    }
    if gpu.mig_strategy != "none":
        labels["nvidia.com/mig.config"] = gpu.mig_config or "custom"
        labels["nvidia.com/mig.config.state"] = "success"
        for prof, per_gpu in gpu.mig.items():
            base = f"nvidia.com/mig-{prof}"
            labels[f"{base}.count"] = str(per_gpu * gpu.count)
            labels[f"{base}.memory"] = str(_MIG_MEMORY_MIB.get(prof, 0))
            labels[f"{base}.product"] = f"{gpu.product}-MIG-{prof}"
            labels[f"{base}.replicas"] = "1"
            labels[f"{base}.sharing-strategy"] = "none"
    return labels


def mig_layout(gpu: Gpu) -> dict[int, list[str]]:
    """MIG devices per GPU index, in nvidia-smi's device order (largest first)."""
    order = sorted(gpu.mig, key=lambda p: (-int(p.split("g.")[0]), p))
    per_gpu = [p for p in order for _ in range(gpu.mig[p])]
    return {i: list(per_gpu) for i in range(gpu.count)} if gpu.mig_strategy != "none" else {}


def gpu_resources(gpu: Gpu) -> dict[str, str]:
    if gpu.mig_strategy == "mixed":
        return {f"nvidia.com/mig-{p}": str(n * gpu.count) for p, n in gpu.mig.items()}
    if gpu.mig_strategy == "single":
        slices = sum(gpu.mig.values()) * gpu.count
        return {"nvidia.com/gpu": str(slices)}
    return {"nvidia.com/gpu": str(gpu.count)}


def node_objects(profile: Profile, now: int | None = None) -> list[dict[str, Any]]:
    now = int(time.time()) if now is None else now
    nodes = []
    for pool in profile.pools:
        for i in range(pool.count):
            name = node_name(pool, i)
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": pool.instance_type,
                "topology.kubernetes.io/zone": pool.zone,
                "type": "kwok",
                POOL_LABEL: pool.name,
            }
            annotations = {KWOK_NODE_ANN: "fake", "node.alpha.kubernetes.io/ttl": "0"}
            res = {"cpu": pool.cpu, "memory": pool.memory, "pods": "110",
                   "ephemeral-storage": "500Gi"}
            if pool.gpu:
                labels.update(gfd_labels(pool.gpu, now))
                # As the GPU Operator's upgrade controller leaves a node after its last upgrade.
                labels["nvidia.com/gpu-driver-upgrade-state"] = "upgrade-done"
                res.update(gpu_resources(pool.gpu))
                annotations[SIM_ANN + "recording"] = pool.gpu.recording
                layout = mig_layout(pool.gpu)
                if layout:
                    annotations[SIM_ANN + "mig-layout"] = json.dumps(layout, sort_keys=True)
            labels.update(pool.labels)
            node: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels, "annotations": annotations},
                "spec": {"taints": [dict(t) for t in pool.taints]} if pool.taints else {},
                "status": {"capacity": dict(res), "allocatable": dict(res)},
            }
            nodes.append(node)
    return nodes
