"""Text in, SmiReport or SmiParseError out: the size cap, the format check, one parser per format."""

from __future__ import annotations

from gpucheck.smi import csv, errors, listing, mig, query_text, table, xml
from gpucheck.smi.detect import detect, strip_prompt
from gpucheck.smi.model import SmiParseError, SmiReport

MAX_BYTES = 20 * 1024 * 1024  # the largest real output (-q -x of 8 GPUs) is under 1 MB
PARSERS = {"table": table.parse, "query": query_text.parse, "xml": xml.parse, "csv": csv.parse,
           "list": listing.parse, "mig": mig.parse}
LABELS = {"table": "nvidia-smi table", "query": "nvidia-smi -q text", "xml": "nvidia-smi -q -x XML",
          "csv": "nvidia-smi --query-* CSV", "list": "nvidia-smi -L listing", "mig": "nvidia-smi mig output"}


def parse(text: str, fmt: str = "auto") -> SmiReport:
    if fmt != "auto" and fmt not in PARSERS:
        raise SmiParseError(f"unknown format {fmt!r}; one of auto, {', '.join(PARSERS)}")
    if len(text) > MAX_BYTES:
        raise SmiParseError(f"the text is {len(text)} characters; nvidia-smi outputs are far below {MAX_BYTES}")
    text = strip_prompt(text)
    kind = _kind(text, fmt)
    if kind == "error":
        return SmiReport(format="error", failure=errors.match(text))
    try:
        report = PARSERS[kind](text)
    except SmiParseError as exc:
        raise SmiParseError(f"{LABELS[kind]}: {exc}") from None
    if not report.has_entries():
        raise SmiParseError(f"{LABELS[kind]}: no GPU or entry in it")
    return report


def _kind(text: str, fmt: str) -> str:
    try:
        found = detect(text)
    except SmiParseError:
        if fmt == "auto":
            raise
        return fmt  # the named parser says best what is missing
    if found == "error" or fmt in ("auto", found):
        return found
    raise SmiParseError(f"asked for {LABELS[fmt]}, but the text is {LABELS[found]}")
