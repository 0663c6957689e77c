"""Pod checks: probe pods run in the run's workspace, graded by the modules here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from gpucheck.cluster.errors import ClusterError
from gpucheck.model import CheckResult
from gpucheck.probes import isolation, mig_slice, secrets_mount, smi_pod, startup, storage_claim

if TYPE_CHECKING:
    from gpucheck.run import RunState

# probe kind -> (job builder, stop at Unschedulable, derive from each outcome)
KINDS: dict[str, tuple[Callable[..., list], bool, Callable[[Any], Any] | None]] = {
    "smi": (smi_pod.jobs, True, smi_pod.parse),
    "iso-taint": (isolation.untolerated_jobs, True, None),
    "iso-nogpu": (isolation.no_request_jobs, True, None),
    "iso-pair": (isolation.pair_jobs, True, None),
    "mig": (mig_slice.jobs, True, None),
}


def _mig(state: "RunState") -> CheckResult:
    runs, bodies = state.probe("mig", with_bodies=True)
    resources = [b["metadata"]["annotations"]["gpucheck.dev/resource"] for b in bodies]
    return mig_slice.slices(runs, resources, state.nodes_by_name())


# Checks graded from the same probe pods are evaluated together, in one test and one process,
# so that (under xdist too) they never describe different pods.
GROUPS: dict[str, tuple[str, ...]] = {
    "smi": ("GPU-SMI-001", "GPU-SMI-002", "GPU-SMI-003", "GPU-START-001"),
    "iso-taint": ("GPU-ISO-001",),
    "iso-nogpu": ("GPU-ISO-002",),
    "iso-pair": ("GPU-ISO-003",),
    "mig": ("GPU-MIG-004",),
    "secrets": ("GPU-SECRET-001",),
    "storage": ("GPU-STORAGE-002",),
}

CHECKS: dict[str, Callable[["RunState"], CheckResult]] = {
    "GPU-SMI-001": lambda s: smi_pod.ran(s.probe("smi")),
    "GPU-SMI-002": lambda s: smi_pod.driver(s.probe("smi"), s.nodes_by_name(), s.settings),
    "GPU-SMI-003": lambda s: smi_pod.health(s.probe("smi")),
    "GPU-ISO-001": lambda s: isolation.kept_off(s.probe("iso-taint")),
    "GPU-ISO-002": lambda s: isolation.no_leak(s.probe("iso-nogpu")),
    "GPU-ISO-003": lambda s: isolation.distinct(s.probe("iso-pair")),
    "GPU-MIG-004": _mig,
    "GPU-START-001": lambda s: startup.budget(s.probe("smi"), s.settings),
    "GPU-SECRET-001": lambda s: secrets_mount.mount(s.cluster(), s.settings, s.workspace().labels),
    "GPU-STORAGE-002": lambda s: storage_claim.claim(s.cluster(), s.settings, s.snapshot(), s.workspace().labels,
                                                     s.run_id),
}


def evaluate(check_id: str, state: "RunState") -> CheckResult:
    snap = state.snapshot()
    err = snap.error_for(("nodes",))
    if err is not None:
        return CheckResult.error(check_id, str(err))
    try:
        return CHECKS[check_id](state)
    except ClusterError as exc:
        return CheckResult.error(check_id, str(exc))
