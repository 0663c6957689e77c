"""The simulated GPU cluster: a real control plane with KWOK nodes (see README)."""

from __future__ import annotations

from importlib import resources


def expectations_file() -> str:
    """The config file that says what the simulated cluster should satisfy (its training
    service account, Secrets, StorageClass), as a team's config file says it of theirs."""
    return str(resources.files("gpucheck.sim") / "data" / "gpucheck.yaml")
