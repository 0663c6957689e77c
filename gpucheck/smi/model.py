"""What nvidia-smi said, whatever format it said it in.

A value nvidia-smi printed as "N/A" (or "[N/A]", "[Not Supported]", ...) is None here, as is a
value the format does not carry. Nothing is filled in that the text did not say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class SmiParseError(ValueError):
    """The text is not an nvidia-smi output of the format tried; the message says what is missing."""


@dataclass(frozen=True)
class EccErrors:
    """Counters summed over SRAM and DRAM (or single/double bit, before R535) where split."""

    volatile_corrected: int | None = None
    volatile_uncorrected: int | None = None
    aggregate_corrected: int | None = None
    aggregate_uncorrected: int | None = None


@dataclass(frozen=True)
class RetiredPages:
    single_bit: int | None = None
    double_bit: int | None = None
    pending: bool | None = None


@dataclass(frozen=True)
class RemappedRows:
    correctable: int | None = None
    uncorrectable: int | None = None
    pending: bool | None = None
    failure: bool | None = None


@dataclass(frozen=True)
class MigDevice:
    profile: str | None
    uuid: str | None
    gpu_instance: int | None = None
    compute_instance: int | None = None
    index: int | None = None


@dataclass(frozen=True)
class Process:
    gpu_index: int | None
    pid: int | None
    type: str | None
    name: str | None
    used_memory_mib: int | None


@dataclass(frozen=True)
class Gpu:
    index: int | None
    name: str | None  # as printed: the table may cut it ("NVIDIA RTX 4000 SFF Ada Gene...")
    uuid: str | None
    bus_id: str | None = None
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None
    ecc_mode: str | None = None  # "Enabled" | "Disabled"
    ecc_errors: EccErrors | None = None
    retired_pages: RetiredPages | None = None
    remapped_rows: RemappedRows | None = None
    mig_mode: str | None = None  # "Enabled" | "Disabled"
    mig_devices: tuple[MigDevice, ...] = ()
    processes: tuple[Process, ...] = ()


@dataclass(frozen=True)
class SmiFailure:
    kind: str  # driver_not_loaded | driver_library_mismatch | no_devices
    message: str
    exit_code: int  # what nvidia-smi exits with when it prints this


@dataclass(frozen=True)
class GpuInstanceProfile:
    """One row of `nvidia-smi mig -lgip`."""

    gpu: int
    name: str  # "1g.5gb", "1g.6gb+me"
    profile_id: int
    free: int
    total: int
    memory_gib: float


@dataclass(frozen=True)
class GpuInstance:
    """One row of `nvidia-smi mig -lgi`."""

    gpu: int
    name: str
    profile_id: int
    instance_id: int
    placement_start: int
    placement_size: int


@dataclass(frozen=True)
class ComputeInstanceProfile:
    """One row of `nvidia-smi mig -lcip`."""

    gpu: int
    gpu_instance: int
    name: str
    profile_id: int
    default: bool  # nvidia-smi marks the default profile with "*"
    free: int
    total: int


@dataclass(frozen=True)
class MigOperation:
    """One result line of `nvidia-smi mig -cgi/-dgi/-cci/-dci` or `-mig 1|0`."""

    action: str  # create | destroy | enable | disable
    target: str  # gpu_instance | compute_instance | mig_mode
    ok: bool
    gpu: int | None = None
    bus_id: str | None = None
    gpu_instance: int | None = None
    compute_instance: int | None = None
    profile: str | None = None
    profile_id: int | None = None
    reason: str | None = None  # why it failed ("In use by another client")


@dataclass(frozen=True, kw_only=True)
class SmiReport:
    driver_version: str | None = None
    cuda_version: str | None = None
    gpus: tuple[Gpu, ...] = ()
    failure: SmiFailure | None = None
    format: str  # table | query | xml | csv | list | mig | error
    gpu_instance_profiles: tuple[GpuInstanceProfile, ...] = ()
    gpu_instances: tuple[GpuInstance, ...] = ()
    compute_instance_profiles: tuple[ComputeInstanceProfile, ...] = ()
    mig_operations: tuple[MigOperation, ...] = ()
    warnings: tuple[str, ...] = ()  # free-text warnings and summary lines of `nvidia-smi mig`

    def has_entries(self) -> bool:
        return bool(self.failure or self.gpus or self.gpu_instance_profiles or self.gpu_instances
                    or self.compute_instance_profiles or self.mig_operations or self.warnings)

    def to_json(self) -> dict[str, Any]:
        return _plain(asdict(self))


def _plain(value: Any) -> Any:
    """asdict keeps tuples; JSON wants lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
