"""`nvidia-smi -L`: GPUs and their MIG devices, in the R450 and R470+ forms."""

from __future__ import annotations

import re

from gpucheck.smi.model import Gpu, MigDevice, SmiParseError, SmiReport

_GPU = re.compile(r"^GPU (\d+): (.+?) \(UUID: (GPU-[0-9A-Fa-f-]+)\)\s*$")
# R470+: "  MIG 1g.10gb     Device  0: (UUID: MIG-<uuid>)"; R450: "  MIG 1g.5gb Device 0: (UUID: MIG-GPU-<uuid>/7/0)"
_MIG = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[0-9A-Za-z/-]+)\)\s*$")


def parse(text: str) -> SmiReport:
    gpus: list[tuple[int, str, str, list[MigDevice]]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if m := _GPU.match(line):
            gpus.append((int(m.group(1)), m.group(2), m.group(3), []))
        elif (m := _MIG.match(line)) and gpus:
            uuid = m.group(3)
            gi = ci = None
            if legacy := re.match(r"MIG-GPU-[0-9a-fA-F-]+/(\d+)/(\d+)$", uuid):
                gi, ci = int(legacy.group(1)), int(legacy.group(2))
            gpus[-1][3].append(MigDevice(m.group(1), uuid, gi, ci, int(m.group(2))))
        else:
            raise SmiParseError(f"nvidia-smi -L: line {n} is neither a GPU nor a MIG device line: {line[:80]!r}")
    if not gpus:
        raise SmiParseError("nvidia-smi -L: no 'GPU <n>: <name> (UUID: ...)' line")
    return SmiReport(format="list", gpus=tuple(Gpu(index=i, name=name, uuid=uuid, mig_devices=tuple(migs))
                                               for i, name, uuid, migs in gpus))
