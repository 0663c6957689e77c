"""nvidia-smi outputs into one typed model (gpucheck.smi.model).

`parse(text, fmt="auto")` returns an SmiReport (a failure output gives one with `.failure`
set) or raises SmiParseError; nothing else escapes.
"""

from __future__ import annotations

from gpucheck.smi import errors, listing, query_text
from gpucheck.smi.model import (EccErrors, Gpu, MigDevice, RemappedRows, RetiredPages, SmiFailure, SmiParseError,
                                SmiReport)

MAX_BYTES = 20 * 1024 * 1024
PARSERS = {"query": query_text.parse, "list": listing.parse}


def detect(text: str) -> str:
    head = text.lstrip()[:2000]
    if errors.match(text):
        return "error"
    if "NVSMI LOG" in head and "<?xml" not in head:
        return "query"
    if head.startswith("GPU ") and "(UUID:" in head.splitlines()[0]:
        return "list"
    raise SmiParseError("not a recognised nvidia-smi output (tried: -q text, -L listing, error messages)")


def parse(text: str, fmt: str = "auto") -> SmiReport:
    if len(text) > MAX_BYTES:
        raise SmiParseError(f"output is {len(text)} bytes; nvidia-smi outputs are far smaller")
    failure = errors.match(text)
    if failure is not None:
        return SmiReport(format="error", failure=failure)
    kind = detect(text) if fmt == "auto" else fmt
    if kind not in PARSERS:
        raise SmiParseError(f"format {kind!r} is not supported here; supported: {', '.join(PARSERS)}")
    try:
        return PARSERS[kind](text)
    except SmiParseError:
        raise
    except (ValueError, IndexError, AttributeError) as exc:
        raise SmiParseError(f"{kind}: {exc}") from None


__all__ = ["parse", "detect", "SmiParseError", "SmiReport", "SmiFailure", "Gpu", "MigDevice", "EccErrors",
           "RetiredPages", "RemappedRows"]
