"""Values as nvidia-smi prints them in every format ("N/A" anywhere, units glued on or not), and
the health blocks every full format carries, built from those values."""

from __future__ import annotations

import re
from typing import Iterable

from gpucheck.smi.model import EccErrors, RemappedRows, RetiredPages

# What nvidia-smi prints instead of a value; CSV wraps them in brackets.
_ABSENT = {"", "n/a", "not supported", "unknown error", "insufficient permissions",
           "requested functionality has been deprecated", "not available"}
_INT = re.compile(r"(-?\d+)(?:\s*[A-Za-z%]*)?", re.ASCII)  # "1430MiB", "2566 MiB", "0 %", "3"


def text(value: str | None) -> str | None:
    """The value, or None when nvidia-smi said it has none."""
    if value is None:
        return None
    value = value.strip()
    return None if value.strip("[]").lower() in _ABSENT else value


def to_int(value: str | None) -> int | None:
    value = text(value)
    m = _INT.fullmatch(value) if value is not None else None
    return int(m.group(1)) if m else None


def yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((text(value) or "").lower())


def mode(value: str | None) -> str | None:
    """ECC and MIG modes: "Enabled"/"Disabled" (the table prints "On"/"Off")."""
    value = text(value)
    return {"on": "Enabled", "off": "Disabled"}.get(value.lower(), value) if value else None


def _ecc_totals(counters: Iterable[tuple[str, str | None]]) -> tuple[int | None, int | None]:
    """(corrected, uncorrected) summed over one ECC block's counters, named as any format names
    them: "SRAM Correctable", "dram_uncorrectable", "sram_uncorrectable_parity" (R535+), or
    "single_bit"/"Double Bit" with their totals (before R535). Flags like "SRAM Threshold Exceeded"
    are not counters."""
    corrected = uncorrected = None
    for name, value in counters:
        key = re.sub(r"[\s-]+", "_", name.strip().lower())
        n = to_int(value)
        if n is None:
            continue
        if key == "double_bit" or "uncorrectable" in key:
            uncorrected = (uncorrected or 0) + n
        elif key == "single_bit" or "correctable" in key:
            corrected = (corrected or 0) + n
    return corrected, uncorrected


def ecc_errors(volatile: Iterable[tuple[str, str | None]],
               aggregate: Iterable[tuple[str, str | None]]) -> EccErrors | None:
    """None when no counter has a value (ECC unsupported or off)."""
    counts = _ecc_totals(volatile) + _ecc_totals(aggregate)
    return None if all(c is None for c in counts) else EccErrors(*counts)


def retired_pages(single_bit: str | None, double_bit: str | None, pending: str | None) -> RetiredPages | None:
    pages = RetiredPages(to_int(single_bit), to_int(double_bit), yes_no(pending))
    return None if pages == RetiredPages() else pages


def remapped_rows(correctable: str | None, uncorrectable: str | None, pending: str | None,
                  failure: str | None) -> RemappedRows | None:
    rows = RemappedRows(to_int(correctable), to_int(uncorrectable), yes_no(pending), yes_no(failure))
    return None if rows == RemappedRows() else rows
