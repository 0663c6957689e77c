"""The default `nvidia-smi` view: version line, one box per GPU, then the MIG devices and
processes tables when present."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TypeVar

from gpucheck.smi import boxes, values
from gpucheck.smi.model import EccErrors, Gpu, MigDevice, Process, SmiParseError, SmiReport

_VERSION = re.compile(r"Driver Version:\s*(\S+).*?(?:CUDA Version:\s*(\S+))?\s*$")
# "0  Tesla T4            On", "0  NVIDIA RTX 4000 Ada Gene...    On" (cut by R535+); Windows: WDDM/TCC
_GPU = re.compile(r"(\d+)\s+(.+?)\s+(On|Off|WDDM|TCC|N/A)", re.ASCII)
_BUS = re.compile(r"(\S+)\s+(?:On|Off|N/A)")
_ECC = re.compile(r"\d+|On|Off|N/A", re.ASCII)
_MEMORY = re.compile(r"(\S+)\s*/\s*(\S+)")
_MIG = re.compile(r"(\d+)\s+(\d+|N/A)\s+(\d+|N/A)\s+(\d+)", re.ASCII)
# 79 columns: "GPU PID Type Name Usage"; later: "GPU GI CI PID Type Name Usage"
_PROCESS = re.compile(r"(?P<gpu>\d+)(?:\s+(?:\d+|N/A)\s+(?:\d+|N/A))?\s+(?P<pid>\d+)\s+(?P<type>[CGM+]+)"
                      r"\s+(?P<name>.*?)\s+(?P<mem>\d+MiB|N/A)", re.ASCII)
_NONE_FOUND = ("No MIG devices found", "No running processes found")
T = TypeVar("T")


def parse(text: str) -> SmiReport:
    _, blocks = boxes.read(text)
    driver, cuda = _versions(blocks[0])
    gpus: dict[int, Gpu] = {}
    migs: dict[int, list[MigDevice]] = {}
    processes: dict[int, list[Process]] = {}
    section = title = None
    for block in blocks[1:]:
        if block.title.startswith(("MIG devices:", "Processes:")):
            title, section = block.title, None
        if block.header:
            section = _section(block, title)
        elif block.title in _NONE_FOUND or block.title == title:
            continue
        elif section == "gpu":
            gpu = _gpu(block)
            if gpu.index in gpus:
                raise SmiParseError(f"line {block.line}: GPU {gpu.index} has a second box")
            gpus[gpu.index], migs[gpu.index], processes[gpu.index] = gpu, [], []
        elif section == "mig":
            index, device = _mig_device(block)
            _listed(migs, index, block).append(device)
        elif section == "processes":
            for process in _processes(block):
                _listed(processes, process.gpu_index, block).append(process)
        else:
            raise SmiParseError(f"line {block.line}: rows outside any GPU, MIG or process table")
    if not gpus:
        raise SmiParseError("no GPU rows under the 'GPU  Name ... Bus-Id' header")
    return SmiReport(format="table", driver_version=driver, cuda_version=cuda,
                     gpus=tuple(replace(gpu, mig_devices=tuple(migs[i]), processes=tuple(processes[i]))
                                for i, gpu in gpus.items()))


def _versions(block: boxes.Block) -> tuple[str | None, str | None]:
    line = block.title
    m = _VERSION.search(line)
    if "NVIDIA-SMI" not in line or not m:
        raise SmiParseError("no '| NVIDIA-SMI ... Driver Version: ...' line at the top of the table")
    return values.text(m.group(1)), values.text(m.group(2))


def _section(block: boxes.Block, title: str | None) -> str:
    cells = " ".join(cell for row in block.rows for cell in row)
    if "Bus-Id" in cells:
        return "gpu"
    if title and title.startswith("MIG devices:"):
        return "mig"
    if title and title.startswith("Processes:"):
        return "processes"
    raise SmiParseError(f"line {block.line}: a column header of no known table: {cells[:80]!r}")


def _gpu(block: boxes.Block) -> Gpu:
    rows = block.rows
    if len(rows) < 2 or any(len(row) != 3 for row in rows):
        raise SmiParseError(f"line {block.line}: a GPU box has two or three rows of three cells")
    gpu, bus, ecc = _match(_GPU, rows[0][0], block), _match(_BUS, rows[0][1], block), _match(_ECC, rows[0][2], block)[0]
    memory = _match(_MEMORY, rows[1][1], block)
    errors = values.to_int(ecc)
    return Gpu(
        index=int(gpu.group(1)),
        name=values.text(gpu.group(2)),
        uuid=None,
        bus_id=values.text(bus.group(1)),
        memory_used_mib=values.to_int(memory.group(1)),
        memory_total_mib=values.to_int(memory.group(2)),
        # The column holds the volatile uncorrected count when ECC is on, else "Off" or "N/A";
        # with MIG on it says "On" and the counts move to the MIG devices table.
        ecc_mode="Enabled" if errors is not None else values.mode(ecc),
        ecc_errors=EccErrors(volatile_uncorrected=errors) if errors is not None else None,
        mig_mode=values.mode(rows[2][2]) if len(rows) > 2 else None,
    )


def _mig_device(block: boxes.Block) -> tuple[int, MigDevice]:
    m = _match(_MIG, block.rows[0][0], block)
    device = MigDevice(profile=None, uuid=None, gpu_instance=values.to_int(m.group(2)),
                       compute_instance=values.to_int(m.group(3)), index=int(m.group(4)))
    return int(m.group(1)), device


def _processes(block: boxes.Block) -> list[Process]:
    found = []
    for row in block.rows:
        m = _match(_PROCESS, row[0], block)
        found.append(Process(gpu_index=int(m["gpu"]), pid=int(m["pid"]), type=m["type"],
                             name=values.text(m["name"]), used_memory_mib=values.to_int(m["mem"])))
    return found


def _listed(per_gpu: dict[int, list[T]], index: int, block: boxes.Block) -> list[T]:
    if index not in per_gpu:
        raise SmiParseError(f"line {block.line}: names GPU {index}, which the GPU table does not list")
    return per_gpu[index]


def _match(pattern: re.Pattern[str], cell: str, block: boxes.Block) -> re.Match[str]:
    m = pattern.fullmatch(cell)
    if not m:
        raise SmiParseError(f"line {block.line}: {cell[:60]!r} is not what that column holds")
    return m
