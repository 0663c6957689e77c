"""nvidia-smi's failure outputs: typed, with the exit codes nvidia-smi uses for them."""

from __future__ import annotations

from gpucheck.smi.model import SmiFailure

# (text nvidia-smi prints, kind, exit code)
KNOWN = (
    ("couldn't communicate with the NVIDIA driver", "driver_not_loaded", 9),
    ("Driver/library version mismatch", "driver_library_mismatch", 18),
    ("No devices were found", "no_devices", 6),
)


def match(text: str) -> SmiFailure | None:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip() and not ln.strip().startswith("$ ")]
    if not lines or len(lines) > 6:
        return None
    joined = " ".join(lines)
    for needle, kind, code in KNOWN:
        if needle in joined:
            return SmiFailure(kind=kind, message=joined, exit_code=code)
    return None
