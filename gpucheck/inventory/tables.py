"""Reference tables shipped with gpucheck (gpucheck/inventory/data): GPUs per cloud instance
type, MIG profile limits per GPU model, health signals other tools publish. Read once."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


def _load(name: str) -> Any:
    return yaml.safe_load((resources.files("gpucheck.inventory") / "data" / name).read_text())


@cache
def instance_gpus() -> dict[str, int]:
    """Instance type -> physical GPUs, across providers."""
    return {itype: int(n) for provider in _load("instance_gpus.yaml").values() for itype, n in provider.items()}


@dataclass(frozen=True)
class MigModel:
    model: str
    match: re.Pattern[str]
    compute_slices: int
    memory_slices: int
    slice_memory_gb: float
    profiles: dict[str, int]  # profile -> most instances on one GPU

    def slices(self, profile: str) -> tuple[int, int]:
        """(compute, memory) slices one instance of `profile` takes."""
        m = re.match(r"(\d+)g\.(\d+)gb", profile)
        if not m:
            return 0, 0
        return int(m.group(1)), math.ceil(int(m.group(2)) / self.slice_memory_gb)


@cache
def mig_models() -> tuple[MigModel, ...]:
    return tuple(MigModel(e["model"], re.compile(e["match"], re.IGNORECASE), int(e["computeSlices"]),
                          int(e["memorySlices"]), float(e["sliceMemoryGB"]),
                          {str(k): int(v) for k, v in e["profiles"].items()})
                 for e in _load("mig_profiles.yaml"))


def mig_model(product: str) -> MigModel | None:
    return next((m for m in mig_models() if m.match.search(product)), None)


@cache
def health_signals() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(condition type -> broken status, label -> {value: FAIL|WARN})."""
    data = _load("health_signals.yaml")
    return dict(data["conditions"]), {k: dict(v) for k, v in data["labels"].items()}
