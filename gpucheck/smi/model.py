"""What nvidia-smi said, whatever format it said it in."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class SmiParseError(ValueError):
    """The text is not an nvidia-smi output of the format tried; the message says what is missing."""


@dataclass(frozen=True)
class EccErrors:
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
class Gpu:
    index: int | None
    name: str | None
    uuid: str | None
    bus_id: str | None = None
    memory_total_mib: int | None = None
    ecc_mode: str | None = None
    ecc_errors: EccErrors | None = None
    retired_pages: RetiredPages | None = None
    remapped_rows: RemappedRows | None = None
    mig_mode: str | None = None
    mig_devices: tuple[MigDevice, ...] = ()


@dataclass(frozen=True)
class SmiFailure:
    kind: str  # driver_not_loaded | driver_library_mismatch | no_devices
    message: str
    exit_code: int


@dataclass(frozen=True)
class SmiReport:
    format: str
    driver_version: str | None = None
    cuda_version: str | None = None
    gpus: tuple[Gpu, ...] = ()
    failure: SmiFailure | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
