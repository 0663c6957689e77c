"""nvidia-smi outputs into one typed model (gpucheck.smi.model).

`parse(text, fmt="auto")` returns an SmiReport (a failure output gives one with `.failure`
set) or raises SmiParseError; nothing else escapes.
"""

from gpucheck.smi.detect import detect
from gpucheck.smi.model import (ComputeInstanceProfile, EccErrors, Gpu, GpuInstance, GpuInstanceProfile, MigDevice,
                                MigOperation, Process, RemappedRows, RetiredPages, SmiFailure, SmiParseError, SmiReport)
from gpucheck.smi.reader import MAX_BYTES, PARSERS, parse

FORMATS = tuple(PARSERS)

__all__ = ["parse", "detect", "FORMATS", "MAX_BYTES", "SmiParseError", "SmiReport", "SmiFailure", "Gpu", "MigDevice",
           "Process", "EccErrors", "RetiredPages", "RemappedRows", "GpuInstanceProfile", "GpuInstance",
           "ComputeInstanceProfile", "MigOperation"]
