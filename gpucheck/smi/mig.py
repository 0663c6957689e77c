"""`nvidia-smi mig`: the profile and instance listings (-lgip, -lgi, -lcip) and what the
create/destroy commands (-cgi, -cci, -dgi, -dci) and `-mig 1|0` print.

A line saying one operation failed ("Unable to destroy ...: In use by another client") is an
operation result with ok=False, not an SmiFailure: nvidia-smi itself worked.
"""

from __future__ import annotations

import re

from gpucheck.smi import boxes
from gpucheck.smi.model import (ComputeInstanceProfile, GpuInstance, GpuInstanceProfile, MigOperation,
                                SmiParseError, SmiReport)

# "0  MIG 1g.5gb  19  7/7  4.75  No  14  0  0" (GPU Name ID Free/Total GiB P2P SM DEC ENC)
_GIP = re.compile(r"(\d+)\s+MIG (\S+)\s+(\d+)\s+(\d+)/(\d+)\s+(\d+(?:\.\d+)?)\s+(?:Yes|No)(?:\s+\d+){3}", re.ASCII)
# "0  MIG 1g.5gb  19  7  4:1" (GPU Name Profile-ID Instance-ID Placement)
_GI = re.compile(r"(\d+)\s+MIG (\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)", re.ASCII)
# "0  7  MIG 1g.5gb  0*  1/1  14  0  0  0" (GPU GI Name Profile-ID Free/Total SM DEC ENC OFA)
_CIP = re.compile(r"(\d+)\s+(\d+)\s+MIG (\S+)\s+(\d+)(\*?)\s+(\d+)/(\d+)(?:\s+\d+){4}", re.ASCII)

_NO_MIG = "No MIG-enabled devices found."  # what the listings print when no GPU has MIG on
OPERATION_PREFIXES = ("Successfully created ", "Successfully destroyed ", "Unable to create ", "Unable to destroy ",
                      "Failed to create ", "Failed to destroy ", "Enabled MIG Mode for GPU ",
                      "Disabled MIG Mode for GPU ", "Warning: ", _NO_MIG)
_INSTANCE_OP = re.compile(
    r"(?P<outcome>Successfully|Unable to) (?P<action>create|destroy)(?:e?d)? (?:a )?(?P<target>GPU|compute) instance"
    r"(?: ID\s+(?P<id>\d+))? (?:on|from) GPU\s+(?P<gpu>\d+)(?: GPU instance ID\s+(?P<gi>\d+))?"
    # "using profile MIG 1g.5gb (ID 19)"; "using profile ID  9" (R450); on failure the profile as asked for
    r"(?: using profile (?:MIG (?P<profile>\S+) \(ID\s+(?P<id_of>\d+)\)|ID\s+(?P<profile_id>\d+)|(?P<asked>[^\s:]+)))?"
    r"(?:: (?P<reason>.+))?", re.ASCII)
_MODE_OP = re.compile(r"(?P<action>Enabled|Disabled) MIG Mode for GPU (?P<bus>\S+)")
_SUMMARY = re.compile(r"Failed to (?:create|destroy) (?:GPU|compute) instances: .+")
# The line that may continue the warning right above it, and the line that ends a `-mig` run.
_FOLLOW_UP = re.compile(r"Reboot the system or try nvidia-smi --gpu-reset to make MIG mode effective on GPU \S+")
_DONE = "All done."


def parse(text: str) -> SmiReport:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return _listing(text) if first.startswith("+") else _operations(text)


def _listing(text: str) -> SmiReport:
    preamble, blocks = boxes.read(text)
    title = blocks[0].title if blocks else ""
    if preamble or title not in TABLES or not blocks[0].header:
        raise SmiParseError(f"no table titled {' or '.join(map(repr, TABLES))} (found {title[:40]!r})")
    pattern, build, field = TABLES[title]
    rows = []
    for block in blocks[1:]:
        m = pattern.fullmatch(block.title)
        if block.header or not m:
            raise SmiParseError(f"line {block.line}: {block.title[:60]!r} is not a row of the {title[:-1]} table")
        rows.append(build(m))
    return SmiReport(format="mig", **{field: tuple(rows)})


def _gpu_instance_profile(m: re.Match[str]) -> GpuInstanceProfile:
    return GpuInstanceProfile(gpu=int(m[1]), name=m[2], profile_id=int(m[3]), free=int(m[4]), total=int(m[5]),
                              memory_gib=float(m[6]))


def _gpu_instance(m: re.Match[str]) -> GpuInstance:
    return GpuInstance(gpu=int(m[1]), name=m[2], profile_id=int(m[3]), instance_id=int(m[4]),
                       placement_start=int(m[5]), placement_size=int(m[6]))


def _compute_instance_profile(m: re.Match[str]) -> ComputeInstanceProfile:
    return ComputeInstanceProfile(gpu=int(m[1]), gpu_instance=int(m[2]), name=m[3], profile_id=int(m[4]),
                                  default=m[5] == "*", free=int(m[6]), total=int(m[7]))


# title -> (row pattern, row builder, SmiReport field)
TABLES = {
    "GPU instance profiles:": (_GIP, _gpu_instance_profile, "gpu_instance_profiles"),
    "GPU instances:": (_GI, _gpu_instance, "gpu_instances"),
    "Compute instance profiles:": (_CIP, _compute_instance_profile, "compute_instance_profiles"),
}


def _operations(text: str) -> SmiReport:
    operations: list[MigOperation] = []
    warnings: list[str] = []
    previous = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line == _DONE:
            continue
        if m := _INSTANCE_OP.fullmatch(line):
            operations.append(_instance_operation(m))
        elif m := _MODE_OP.fullmatch(line):
            action = m["action"].removesuffix("d").lower()
            operations.append(MigOperation(action=action, target="mig_mode", ok=True, bus_id=m["bus"]))
        elif line.startswith("Warning: ") or line == _NO_MIG or _SUMMARY.fullmatch(line):
            warnings.append(line.removeprefix("Warning: "))
        elif previous.startswith("Warning: ") and _FOLLOW_UP.fullmatch(line):
            warnings[-1] += " " + line
        else:
            raise SmiParseError(f"line {n} is no `nvidia-smi mig` result line: {line[:80]!r}")
        previous = line
    if not operations and not warnings:
        raise SmiParseError("no 'Successfully ...', 'Unable to ...' or 'Warning: ...' line")
    return SmiReport(format="mig", mig_operations=tuple(operations), warnings=tuple(warnings))


def _instance_operation(m: re.Match[str]) -> MigOperation:
    gpu_op = m["target"] == "GPU"
    instance = int(m["id"]) if m["id"] else None
    profile, profile_id = m["profile"], m["id_of"] or m["profile_id"]
    if m["asked"]:  # an ID or a name
        profile, profile_id = (None, m["asked"]) if m["asked"].isdigit() else (m["asked"], None)
    return MigOperation(
        action=m["action"], target="gpu_instance" if gpu_op else "compute_instance", ok=m["outcome"] == "Successfully",
        gpu=int(m["gpu"]), gpu_instance=instance if gpu_op else int(m["gi"]) if m["gi"] else None,
        compute_instance=None if gpu_op else instance, profile=profile,
        profile_id=int(profile_id) if profile_id else None, reason=m["reason"])
