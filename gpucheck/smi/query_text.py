"""`nvidia-smi -q`: the indented "Key : Value" report, one section per GPU."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gpucheck.smi import values
from gpucheck.smi.model import Gpu, MigDevice, Process, SmiParseError, SmiReport

_GPU_HEADER = re.compile(r"GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])")


@dataclass
class _Node:
    key: str
    value: str | None
    children: list[_Node] = field(default_factory=list)

    def get(self, *path: str) -> _Node | None:
        node: _Node | None = self
        for key in path:
            node = next((c for c in node.children if c.key == key), None) if node else None
        return node

    def val(self, *path: str) -> str | None:
        node = self.get(*path)
        return node.value if node else None

    def all(self, key: str) -> list[_Node]:
        return [c for c in self.children if c.key == key]

    def counters(self) -> list[tuple[str, str | None]]:
        """An ECC block's counters; before R535 each is a "Single Bit"/"Double Bit" group with a Total."""
        return [(c.key, c.val("Total") if c.children else c.value) for c in self.children]


def parse(text: str) -> SmiReport:
    lines = text.splitlines()
    if not any("NVSMI LOG" in line for line in lines[:5]):
        raise SmiParseError("no '==============NVSMI LOG==============' header")
    sections: list[tuple[str, list[str]]] = []
    header: list[str] = []
    for line in lines:
        if m := _GPU_HEADER.fullmatch(line.rstrip()):
            sections.append((m.group(1), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            header.append(line)
    if not sections:
        raise SmiParseError("no 'GPU <bus id>' section")
    top = _tree(header)
    attached = values.to_int(top.val("Attached GPUs"))
    if attached is None:
        raise SmiParseError("no 'Attached GPUs : <n>' line before the GPU sections")
    # A text output cut between two GPU sections reads as a whole one; the count is the only guard.
    if attached != len(sections):
        raise SmiParseError(f"'Attached GPUs' says {attached}, found {len(sections)} GPU sections (cut output?)")
    gpus = tuple(_gpu(index, bus, _tree(body)) for index, (bus, body) in enumerate(sections))
    return SmiReport(format="query", driver_version=values.text(top.val("Driver Version")),
                     cuda_version=values.text(top.val("CUDA Version")), gpus=gpus)


def _tree(lines: list[str]) -> _Node:
    root = _Node("", None)
    stack: list[tuple[int, _Node]] = [(-1, root)]
    for line in lines:
        if not line.strip() or line.startswith("="):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(" : ")
        node = _Node(key.strip(), value.strip() if sep else None)
        while stack[-1][0] >= indent:
            stack.pop()
        stack[-1][1].children.append(node)
        stack.append((indent, node))
    return root


def _gpu(index: int, bus: str, node: _Node) -> Gpu:
    if node.get("Processes") is None:  # the last item of every GPU section since R418
        raise SmiParseError(f"GPU {bus}'s section ends before 'Processes' (cut output?)")
    name, uuid = values.text(node.val("Product Name")), values.text(node.val("GPU UUID"))
    if not name and not uuid:
        raise SmiParseError(f"GPU {bus} has neither 'Product Name' nor 'GPU UUID'")
    ecc, pages, rows = node.get("ECC Errors"), node.get("Retired Pages"), node.get("Remapped Rows")
    return Gpu(
        index=index,
        name=name,
        uuid=uuid,
        bus_id=bus,
        memory_total_mib=values.to_int(node.val("FB Memory Usage", "Total")),
        memory_used_mib=values.to_int(node.val("FB Memory Usage", "Used")),
        ecc_mode=values.mode(node.val("ECC Mode", "Current")),
        ecc_errors=values.ecc_errors(_counters(ecc, "Volatile"), _counters(ecc, "Aggregate")),
        retired_pages=values.retired_pages(
            pages.val("Single Bit ECC"), pages.val("Double Bit ECC"),
            pages.val("Pending Page Blacklist") or pages.val("Pending Page Retirement")) if pages else None,
        remapped_rows=values.remapped_rows(
            rows.val("Correctable Error"), rows.val("Uncorrectable Error"), rows.val("Pending"),
            rows.val("Remapping Failure Occurred")) if rows else None,
        mig_mode=values.mode(node.val("MIG Mode", "Current")),
        mig_devices=tuple(_mig_device(m) for m in _mig_nodes(node)),
        processes=tuple(_processes(index, node.get("Processes"))),
    )


def _counters(ecc: _Node | None, block: str) -> list[tuple[str, str | None]]:
    node = ecc.get(block) if ecc else None
    return node.counters() if node else []


def _mig_nodes(gpu: _Node) -> list[_Node]:
    """Recent drivers (590 in the corpus) put "MIG Device" items right under the GPU; R450-R470
    grouped them under "MIG Devices"."""
    group = gpu.get("MIG Devices")
    return gpu.all("MIG Device") + (group.all("MIG Device") if group else [])


def _mig_device(node: _Node) -> MigDevice:
    return MigDevice(profile=None, uuid=None, gpu_instance=values.to_int(node.val("GPU Instance ID")),
                     compute_instance=values.to_int(node.val("Compute Instance ID")),
                     index=values.to_int(node.val("Index")))


def _processes(gpu_index: int, node: _Node) -> list[Process]:
    return [Process(gpu_index=gpu_index, pid=values.to_int(p.value), type=values.text(p.val("Type")),
                    name=values.text(p.val("Name")), used_memory_mib=values.to_int(p.val("Used GPU Memory")))
            for p in node.all("Process ID")]
