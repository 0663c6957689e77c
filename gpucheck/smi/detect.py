"""Which nvidia-smi output a text is, from its first lines."""

from __future__ import annotations

import itertools
import re

from gpucheck.smi import csv, errors, listing, mig
from gpucheck.smi.model import SmiParseError

_HEAD_CHARS = 65536  # the longest first line seen is a ~5 kB CSV header of every --query-gpu field
_HEAD_LINES = 8
_KERNEL_LOG = re.compile(r"NVRM: Xid\b")
_KLOG = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\]", re.ASCII)
# Blank lines and "$ nvidia-smi", "root@node:~# nvidia-smi -L" prompt lines pasted above the output
_LEAD = re.compile(r"(?:[^\S\n]*(?:\S*[$#%>] *nvidia-smi\b[^\n]*)?(?:\n|$))*")


def strip_prompt(text: str) -> str:
    """The output without a byte-order mark or the blank and shell prompt lines above it."""
    text = text.removeprefix("\ufeff")
    return text[_LEAD.match(text).end():]


def detect(text: str) -> str:
    """table | query | xml | csv | list | mig | error (a failure output); SmiParseError otherwise."""
    text = strip_prompt(text)
    if errors.match(text):
        return "error"
    head = list(itertools.islice((line.strip() for line in text[:_HEAD_CHARS].splitlines() if line.strip()),
                                 _HEAD_LINES))
    if not head:
        raise SmiParseError("the text is empty")
    first = head[0]
    if first.startswith("<"):
        return "xml"
    if any("NVSMI LOG" in line for line in head[:3]):
        return "query"
    if any(line.startswith("| NVIDIA-SMI ") for line in head[:3]):
        return "table"
    if listing.GPU_LINE.fullmatch(first):
        return "list"
    if first.startswith(mig.OPERATION_PREFIXES) or (
            first.startswith("+") and len(head) > 1 and head[1].strip("| ") in mig.TABLES):
        return "mig"
    if set(csv.header_fields(first) or ()) & csv.IDENTITY:
        return "csv"
    if any(_KERNEL_LOG.search(line) for line in head):
        raise SmiParseError("these are kernel log lines (NVRM Xid), not nvidia-smi output")
    if any(_KLOG.match(line) for line in head):
        raise SmiParseError("these are Kubernetes component log lines (a device plugin's?), not nvidia-smi output")
    raise SmiParseError("not a known nvidia-smi output (tried: failure message, -q -x XML, -q text, table, -L, "
                        f"mig, CSV with header); it starts {first[:60]!r}")
