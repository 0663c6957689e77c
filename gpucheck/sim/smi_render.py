"""What `nvidia-smi` prints inside one simulated container.

Pure functions from a recorded real output, the devices the container was given and the
node's identity to the text and exit code the container produces. Only the cut a container
runtime makes is applied (a container sees its own GPUs) plus per-node UUIDs; the rest is the
recording as it was.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from importlib import resources

_GPU_HEADER = re.compile(r"^GPU [0-9A-Fa-f]{8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]$")
_UUID_LINE = re.compile(r"^(\s+GPU UUID\s+: )(GPU-[0-9a-f-]+)\s*$")
_NAME_LINE = re.compile(r"^\s+Product Name\s+: (.+?)\s*$")
_ATTACHED = re.compile(r"^(Attached GPUs\s+: )\d+\s*$")
_NS = uuid.UUID("6f1c1a8e-8a55-4c2c-9a0e-5d1d8f3e2b10")

# Exit codes nvidia-smi returns for these NVML failures.
ERRORS: dict[str, tuple[str, int]] = {
    "couldnt-communicate": ("error_couldnt-communicate.txt", 9),
    "driver-library-mismatch": ("error_driver-library-mismatch.txt", 18),
    "no-devices": ("error_no-devices.txt", 6),
}


@dataclass(frozen=True)
class GpuBlock:
    name: str
    uuid: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Recording:
    header: tuple[str, ...]
    gpus: tuple[GpuBlock, ...]
    trailer: tuple[str, ...] = ()


@dataclass(frozen=True)
class MigSlice:
    gpu: int
    profile: str
    index: int  # device index within its GPU


def read_recording(name: str) -> str:
    return (resources.files("gpucheck.sim") / "recordings" / name).read_text()


def parse_q(text: str) -> Recording:
    """Split an `nvidia-smi -q` recording into its header and one block per GPU."""
    lines = text.splitlines()
    header: list[str] = []
    blocks: list[list[str]] = []
    for line in lines:
        if _GPU_HEADER.match(line):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
        else:
            header.append(line)
    if not blocks:
        raise ValueError("recording has no 'GPU <bus id>' section")
    gpus = []
    for block in blocks:
        name = next((m.group(1) for m in map(_NAME_LINE.match, block) if m), "")
        gid = next((m.group(2) for m in map(_UUID_LINE.match, block) if m), "")
        gpus.append(GpuBlock(name=name, uuid=gid, lines=tuple(block)))
    return Recording(header=tuple(header), gpus=tuple(gpus))


def node_gpu_uuid(node: str, index: int) -> str:
    return "GPU-" + str(uuid.uuid5(_NS, f"{node}/gpu/{index}"))


def node_mig_uuid(node: str, gpu: int, profile: str, index: int) -> str:
    return "MIG-" + str(uuid.uuid5(_NS, f"{node}/gpu/{gpu}/mig/{profile}/{index}"))


def render_q(rec: Recording, node: str, gpus: list[int], mig_enabled: bool = False) -> str:
    """`nvidia-smi -q` as a container given GPUs `gpus` (indices on the node) sees it; with
    `mig_enabled` the GPUs report MIG mode on, as a MIG slice's parent does."""
    out: list[str] = []
    for line in rec.header:
        m = _ATTACHED.match(line)
        out.append(f"{m.group(1)}{len(gpus)}" if m else line)
    for i in gpus:
        block = rec.gpus[i % len(rec.gpus)]
        in_mig_mode = False
        for line in block.lines:
            m = _UUID_LINE.match(line)
            if m:
                line = f"{m.group(1)}{node_gpu_uuid(node, i)}"
            elif line.strip() == "MIG Mode":
                in_mig_mode = True
            elif in_mig_mode and mig_enabled and line.strip().startswith(("Current", "Pending")):
                line = line.split(":")[0] + ": Enabled"
            elif in_mig_mode and not line.startswith(" " * 8):
                in_mig_mode = False
            out.append(line)
    out += rec.trailer
    return "\n".join(out).rstrip("\n") + "\n"


def render_list(rec: Recording, node: str, gpus: list[int], migs: list[MigSlice]) -> str:
    """`nvidia-smi -L`: one line per GPU, MIG devices under their parent (R470+ form)."""
    out: list[str] = []
    parents = sorted(set(gpus) | {m.gpu for m in migs})
    for pos, i in enumerate(parents):
        name = rec.gpus[i % len(rec.gpus)].name
        out.append(f"GPU {pos}: {name} (UUID: {node_gpu_uuid(node, i)})")
        for m in (m for m in migs if m.gpu == i):
            out.append(
                f"  MIG {m.profile:<11} Device {m.index:>2}: "
                f"(UUID: {node_mig_uuid(node, m.gpu, m.profile, m.index)})"
            )
    return "\n".join(out) + "\n"


def render_error(kind: str) -> tuple[str, int]:
    try:
        filename, code = ERRORS[kind]
    except KeyError:
        raise ValueError(f"unknown nvidia-smi failure {kind!r}; known: {', '.join(ERRORS)}") from None
    return read_recording(filename), code


def command_mode(argv: list[str]) -> str | None:
    """Which nvidia-smi output a container command asks for, or None if it runs no nvidia-smi."""
    joined = " ".join(argv)
    if "nvidia-smi" not in joined:
        return None
    words = joined.replace(";", " ").replace("&&", " ").split()
    if "-L" in words or "--list-gpus" in words:
        return "list"
    return "q"
