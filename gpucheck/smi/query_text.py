"""`nvidia-smi -q`: the indented "Key : Value" report, one section per GPU."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gpucheck.smi.model import EccErrors, Gpu, RemappedRows, RetiredPages, SmiParseError, SmiReport

_GPU_HEADER = re.compile(r"^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])\s*$")


@dataclass
class _Node:
    key: str
    value: str | None
    children: list["_Node"] = field(default_factory=list)

    def get(self, *path: str) -> "_Node | None":
        node: _Node | None = self
        for key in path:
            node = next((c for c in node.children if c.key == key), None) if node else None
        return node

    def val(self, *path: str) -> str | None:
        node = self.get(*path)
        return node.value if node else None


def _tree(lines: list[str]) -> _Node:
    root = _Node("", None)
    stack: list[tuple[int, _Node]] = [(-1, root)]
    for line in lines:
        if not line.strip() or line.startswith("="):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(" : ")
        if not sep and line.rstrip().endswith(":"):
            key, value = line.strip()[:-1], ""
        node = _Node(key.strip(), value.strip() if sep else None)
        while stack[-1][0] >= indent:
            stack.pop()
        stack[-1][1].children.append(node)
        stack.append((indent, node))
    return root


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    m = re.match(r"^\s*(\d+)", text)
    return int(m.group(1)) if m else None


def _yes(text: str | None) -> bool | None:
    if text is None:
        return None
    t = text.strip().lower()
    return True if t == "yes" else False if t == "no" else None


def _sum(node: _Node | None, corrected: bool) -> int | None:
    """Sum the counters of one ECC block: "SRAM Correctable"/"DRAM Uncorrectable"... (R535+)
    or "Single Bit"/"Double Bit" -> "Total" (older drivers)."""
    if node is None:
        return None
    total, seen = 0, False
    for c in node.children:
        name = c.key.lower()
        if name in ("single bit", "double bit"):
            if (name == "single bit") == corrected and (n := _int(c.val("Total"))) is not None:
                total, seen = total + n, True
        elif ("uncorrectable" in name) != corrected and "correctable" in name:
            if (n := _int(c.value)) is not None:
                total, seen = total + n, True
    return total if seen else None


def _gpu(index: int, bus: str, node: _Node) -> Gpu:
    ecc = node.get("ECC Errors")
    pages = node.get("Retired Pages")
    rows = node.get("Remapped Rows")
    return Gpu(
        index=index,
        name=node.val("Product Name"),
        uuid=node.val("GPU UUID"),
        bus_id=bus,
        memory_total_mib=_int(node.val("FB Memory Usage", "Total")),
        ecc_mode=node.val("ECC Mode", "Current"),
        ecc_errors=EccErrors(
            volatile_corrected=_sum(ecc.get("Volatile") if ecc else None, True),
            volatile_uncorrected=_sum(ecc.get("Volatile") if ecc else None, False),
            aggregate_corrected=_sum(ecc.get("Aggregate") if ecc else None, True),
            aggregate_uncorrected=_sum(ecc.get("Aggregate") if ecc else None, False),
        ) if ecc else None,
        retired_pages=RetiredPages(
            single_bit=_int(pages.val("Single Bit ECC")), double_bit=_int(pages.val("Double Bit ECC")),
            pending=_yes(pages.val("Pending Page Blacklist") or pages.val("Pending Page Retirement")),
        ) if pages else None,
        remapped_rows=RemappedRows(
            correctable=_int(rows.val("Correctable Error")), uncorrectable=_int(rows.val("Uncorrectable Error")),
            pending=_yes(rows.val("Pending")), failure=_yes(rows.val("Remapping Failure Occurred")),
        ) if rows else None,
        mig_mode=node.val("MIG Mode", "Current"),
    )


def parse(text: str) -> SmiReport:
    lines = text.splitlines()
    if not any("NVSMI LOG" in ln for ln in lines[:5]):
        raise SmiParseError("nvidia-smi -q: no '==============NVSMI LOG==============' header")
    sections: list[tuple[str, list[str]]] = []
    header: list[str] = []
    for line in lines:
        if m := _GPU_HEADER.match(line):
            sections.append((m.group(1), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            header.append(line)
    if not sections:
        raise SmiParseError("nvidia-smi -q: no 'GPU <bus id>' section")
    top = _tree(header)
    gpus = []
    for i, (bus, body) in enumerate(sections):
        tree = _tree(body)
        if tree.get("Processes") is None:  # the last item of every GPU section since R418
            raise SmiParseError(f"nvidia-smi -q: GPU {bus}'s section ends before 'Processes' (truncated output?)")
        gpu = _gpu(i, bus, tree)
        if not gpu.name and not gpu.uuid:
            raise SmiParseError(f"nvidia-smi -q: GPU {bus} has neither 'Product Name' nor 'GPU UUID'")
        gpus.append(gpu)
    attached = _int(top.val("Attached GPUs"))
    if attached is not None and attached != len(gpus):
        raise SmiParseError(f"nvidia-smi -q: 'Attached GPUs' says {attached}, found {len(gpus)} GPU sections "
                            "(truncated output?)")
    return SmiReport(format="query", driver_version=top.val("Driver Version"), cuda_version=top.val("CUDA Version"),
                     gpus=tuple(gpus))
