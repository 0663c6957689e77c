"""nvidia-smi's failure outputs, typed, with the exit code nvidia-smi gives each.

A failure output is nothing but these lines: a table or log that merely mentions one is not.
"""

from __future__ import annotations

import re

from gpucheck.smi.model import SmiFailure

_MAKE_SURE = r"Make sure that the latest NVIDIA driver is installed and running\."
# (kind, exit code, the line that says it, lines that may come with it)
_KNOWN = (
    ("driver_not_loaded", 9,
     re.compile(rf"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver\.(?: {_MAKE_SURE})?"),
     re.compile(_MAKE_SURE)),
    ("driver_library_mismatch", 18, re.compile(r"Failed to initialize NVML: Driver/library version mismatch"),
     re.compile(r"NVML library version: \S+")),
    ("no_devices", 6, re.compile(r"No devices were found"), None),
)


def match(text: str) -> SmiFailure | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for kind, code, says, extra in _KNOWN:
        if lines and says.fullmatch(lines[0]) and all(extra and extra.fullmatch(line) for line in lines[1:]):
            return SmiFailure(kind=kind, message=" ".join(lines), exit_code=code)
    return None
