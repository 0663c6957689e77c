"""`nvidia-smi -L`: GPUs and their MIG devices, in the R450 and R470+ forms."""

from __future__ import annotations

import re
from dataclasses import replace

from gpucheck.smi.model import Gpu, MigDevice, SmiParseError, SmiReport

GPU_LINE = re.compile(r"GPU (\d+): (.+?) \(UUID: (GPU-[0-9A-Fa-f-]+)\)", re.ASCII)
# R470+: "  MIG 1g.10gb     Device  0: (UUID: MIG-<uuid>)"; R450: "  MIG 1g.5gb Device 0: (UUID: MIG-GPU-<uuid>/7/0)"
_MIG_LINE = re.compile(r"MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-(?:GPU-)?[0-9A-Fa-f-]+(?:/\d+/\d+)?)\)",
                       re.ASCII)
_R450_IDS = re.compile(r"MIG-GPU-[0-9A-Fa-f-]+/(\d+)/(\d+)", re.ASCII)


def parse(text: str) -> SmiReport:
    gpus: dict[int, Gpu] = {}
    migs: dict[int, list[MigDevice]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if m := GPU_LINE.fullmatch(line.rstrip()):
            index = int(m.group(1))
            if index in gpus:
                raise SmiParseError(f"line {n}: GPU {index} is listed twice")
            gpus[index], migs[index] = Gpu(index=index, name=m.group(2), uuid=m.group(3)), []
        elif (m := _MIG_LINE.fullmatch(line.strip())) and line[0].isspace() and gpus:
            migs[index].append(_mig(m))
        else:
            raise SmiParseError(f"line {n} is neither a 'GPU <n>: <name> (UUID: GPU-...)' line nor an "
                                f"indented 'MIG <profile> Device <n>: (UUID: MIG-...)' line: {line[:80]!r}")
    if not gpus:
        raise SmiParseError("no 'GPU <n>: <name> (UUID: GPU-...)' line")
    return SmiReport(format="list", gpus=tuple(replace(gpu, mig_devices=tuple(migs[i])) for i, gpu in gpus.items()))


def _mig(m: re.Match[str]) -> MigDevice:
    profile, index, uuid = m.group(1), int(m.group(2)), m.group(3)
    ids = _R450_IDS.fullmatch(uuid)  # the R450 UUID names the GPU and compute instances
    return MigDevice(profile=profile, uuid=uuid, gpu_instance=int(ids.group(1)) if ids else None,
                     compute_instance=int(ids.group(2)) if ids else None, index=index)
