"""The result model every part of gpucheck speaks: statuses, severities, findings, results.

Plain dataclasses with a JSON form, so results can cross process boundaries (xdist workers)
and be rendered by any renderer without knowing where they came from.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(str, enum.Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        """Worse is higher; a check's status is its worst finding's."""
        return {"SKIP": 0, "PASS": 1, "WARN": 2, "FAIL": 3, "ERROR": 4}[self.value]


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One observation about one object (a node, a pod, a DaemonSet, the cluster)."""

    status: Status
    message: str
    object: str = ""  # "Node/gpu-h100-0", "DaemonSet/kube-system/nvidia-device-plugin"
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "message": self.message, "object": self.object,
                "evidence": self.evidence}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Finding":
        return cls(Status(d["status"]), d["message"], d.get("object", ""), dict(d.get("evidence") or {}))


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: Status
    findings: tuple[Finding, ...] = ()
    summary: str = ""
    duration_s: float = 0.0

    @classmethod
    def of(cls, check_id: str, findings: list[Finding], summary: str = "", duration_s: float = 0.0
           ) -> "CheckResult":
        status = max((f.status for f in findings), key=lambda s: s.rank) if findings else Status.PASS
        return cls(check_id, status, tuple(findings), summary, duration_s)

    @classmethod
    def summarized(cls, check_id: str, findings: list[Finding], ok: str) -> "CheckResult":
        """`of`, summarized as graders do: the messages of the findings that are not PASS,
        or `ok` when every finding passed."""
        bad = [f.message for f in findings if f.status != Status.PASS]
        return cls.of(check_id, findings, "; ".join(bad) if bad else ok)

    @classmethod
    def error(cls, check_id: str, reason: str, obj: str = "") -> "CheckResult":
        return cls(check_id, Status.ERROR, (Finding(Status.ERROR, reason, obj),), reason)

    @classmethod
    def skip(cls, check_id: str, reason: str) -> "CheckResult":
        return cls(check_id, Status.SKIP, (), reason)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["findings"] = [f.to_json() for f in self.findings]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "CheckResult":
        return cls(d["id"], Status(d["status"]), tuple(Finding.from_json(f) for f in d.get("findings", [])),
                   d.get("summary", ""), float(d.get("duration_s", 0.0)))
