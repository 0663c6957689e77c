"""Checks that ask the API live questions beyond the snapshot: access reviews for the training
service account, the Prometheus that holds GPU metrics. One function per check id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from gpucheck.access import prometheus, service_account
from gpucheck.model import CheckResult

if TYPE_CHECKING:
    from gpucheck.run import RunState

CHECKS: dict[str, Callable[["RunState"], CheckResult]] = {
    "GPU-SA-001": lambda s: service_account.review(s.cluster(), s.settings),
    "GPU-METRICS-002": lambda s: prometheus.series(s.snapshot(), s.settings),
}
# The snapshot kinds each check reads besides its own requests (see gpucheck.inventory.snapshot).
KINDS: dict[str, tuple[str, ...]] = {"GPU-SA-001": (), "GPU-METRICS-002": ("nodes",)}

