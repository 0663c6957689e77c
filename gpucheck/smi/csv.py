"""`nvidia-smi --query-gpu=... --format=csv` and `--query-compute-apps=... --format=csv`.

The header names the fields, with the unit in brackets ("memory.total [MiB]"); values carry the
unit too ("2566 MiB") unless `nounits` was given; "[N/A]" and friends mean no value.
"""

from __future__ import annotations

import csv
import re

from gpucheck.smi import values
from gpucheck.smi.model import Gpu, Process, SmiParseError, SmiReport

_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)(?: \[[^\]]+\])?", re.ASCII)
# Fields that say which GPU a row is about. In --query-compute-apps "name" is the process's.
_APP_GPU = ("gpu_uuid", "gpu_name", "gpu_bus_id")
IDENTITY = {"index", "name", "uuid", "pci.bus_id", *_APP_GPU}


def header_fields(line: str) -> list[str] | None:
    """The field names of a `--format=csv` header line, or None when it is not one."""
    names = [h.strip() for h in line.split(",")]
    matches = [_FIELD.fullmatch(n) for n in names]
    return [m.group(1) for m in matches] if all(matches) else None


def parse(text: str) -> SmiReport:
    lines = [line for line in text.splitlines() if line.strip()]
    fields = header_fields(lines[0]) if lines else None
    if not fields:
        raise SmiParseError("no header line of field names ('name, uuid, memory.total [MiB]'; noheader output "
                            "cannot be read)")
    apps = "pid" in fields
    identity = set(_APP_GPU) if apps else IDENTITY
    if not identity & set(fields):
        raise SmiParseError(f"no field says which GPU a row is about (one of {', '.join(sorted(identity))})")
    records = []
    for n, row in enumerate(csv.reader(lines[1:], skipinitialspace=True), 2):
        if len(row) != len(fields):
            raise SmiParseError(f"line {n} has {len(row)} values, the header {len(fields)} (cut output?)")
        records.append(dict(zip(fields, (v.strip() for v in row))))
    if not records:
        raise SmiParseError("a header and no rows")
    if apps:
        return SmiReport(format="csv", gpus=_apps(records))
    return SmiReport(format="csv", driver_version=values.text(records[0].get("driver_version")),
                     gpus=tuple(_gpu(r) for r in records))


def _get(record: dict[str, str], *names: str) -> str | None:
    return next((record[n] for n in names if n in record), None)


def _gpu(r: dict[str, str]) -> Gpu:
    return Gpu(
        index=values.to_int(r.get("index")),
        name=values.text(_get(r, "name", "gpu_name")),
        uuid=values.text(_get(r, "uuid", "gpu_uuid")),
        bus_id=values.text(_get(r, "pci.bus_id", "gpu_bus_id")),
        memory_total_mib=values.to_int(r.get("memory.total")),
        memory_used_mib=values.to_int(r.get("memory.used")),
        ecc_mode=values.mode(r.get("ecc.mode.current")),
        ecc_errors=values.ecc_errors(_ecc(r, "volatile"), _ecc(r, "aggregate")),
        retired_pages=values.retired_pages(_get(r, "retired_pages.single_bit_ecc.count", "retired_pages.sbe"),
                                           _get(r, "retired_pages.double_bit.count", "retired_pages.dbe"),
                                           r.get("retired_pages.pending")),
        remapped_rows=values.remapped_rows(r.get("remapped_rows.correctable"), r.get("remapped_rows.uncorrectable"),
                                           r.get("remapped_rows.pending"), r.get("remapped_rows.failure")),
        mig_mode=values.mode(r.get("mig.mode.current")),
    )


def _ecc(r: dict[str, str], block: str) -> list[tuple[str, str | None]]:
    """The total when queried, else SRAM plus DRAM (device_memory is DRAM's name before R535)."""
    counters = []
    for kind, counter in (("corrected", "correctable"), ("uncorrected", "uncorrectable")):
        prefix = f"ecc.errors.{kind}.{block}."
        if prefix + "total" in r:
            counters.append((counter, r[prefix + "total"]))
        else:
            dram = _get(r, prefix + "dram", prefix + "device_memory")
            counters += [(counter, r.get(prefix + "sram")), (counter, dram)]
    return counters


def _apps(records: list[dict[str, str]]) -> tuple[Gpu, ...]:
    """One GPU per distinct GPU the processes run on, in order of appearance."""
    gpus: dict[tuple[str | None, ...], list[Process]] = {}
    for r in records:
        key = tuple(values.text(r.get(name)) for name in _APP_GPU)
        gpus.setdefault(key, []).append(Process(
            gpu_index=None, pid=values.to_int(r["pid"]), type=None, name=values.text(_get(r, "process_name", "name")),
            used_memory_mib=values.to_int(_get(r, "used_gpu_memory", "used_memory"))))
    return tuple(Gpu(index=None, uuid=uuid, name=name, bus_id=bus, processes=tuple(procs))
                 for (uuid, name, bus), procs in gpus.items())
