"""The readiness report: built once from results and the catalog, rendered many ways."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from gpucheck import __version__, catalog, grading
from gpucheck.model import CheckResult, Status

SCHEMA_VERSION = "1.0"
GATE_CHECK = "GPU-GATE-001"  # its findings are the changes since the baseline (gpucheck.baseline.gate)


@dataclass(frozen=True)
class CheckEntry:
    id: str
    title: str
    category: str
    severity: str
    status: str
    summary: str
    remediation: str
    doc: str
    duration_s: float
    findings: list[dict[str, Any]]


@dataclass(frozen=True)
class Report:
    schema_version: str
    gpucheck_version: str
    generated_at: str
    cluster: dict[str, Any]
    settings: dict[str, Any]
    verdict: str
    score: int
    reasons: list[str]
    counts: dict[str, int]
    categories: list[dict[str, Any]]
    checks: list[CheckEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Report":
        d = dict(d)
        d["checks"] = [CheckEntry(**c) for c in d.get("checks", [])]
        return cls(**d)

    def node_matrix(self) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
        """Nodes x checks -> worst status of that check's findings about that node."""
        cells: dict[tuple[str, str], str] = {}
        for c in self.checks:
            for f in c.findings:
                obj = f.get("object", "")
                if obj.startswith("Node/"):
                    key = (obj[5:], c.id)
                    old = cells.get(key)
                    if old is None or Status(f["status"]).rank > Status(old).rank:
                        cells[key] = f["status"]
        nodes = sorted({n for n, _ in cells})
        ids = [c.id for c in self.checks if any((n, c.id) in cells for n in nodes)]
        return nodes, ids, cells

    def gate(self) -> CheckEntry | None:
        """The GPU-GATE-001 entry when the run was gated against a baseline."""
        return next((c for c in self.checks if c.id == GATE_CHECK), None)

    def changes(self) -> list[dict[str, Any]]:
        """The changes since the baseline, regressions first (the gate's order): each
        {label, status, kind, object, message, before, after}; label is regression, review,
        allowed or change."""
        gate = self.gate()
        out = []
        for f in gate.findings if gate else []:
            ev = f.get("evidence") or {}
            if "kind" not in ev:
                continue
            label = {"FAIL": "regression", "WARN": "review"}.get(f["status"]) or \
                ("allowed" if ev.get("allowed") else "change")
            out.append({"label": label, "status": f["status"], "kind": ev["kind"], "object": f["object"],
                        "message": f["message"], "before": ev.get("before"), "after": ev.get("after")})
        return out

    def changes_intro(self) -> str:
        """"before.json, saved 2026-05-01T10:00:00Z: 2 regression(s), 1 allowed": what the
        changes section leads with (the gate's summary when it could not be decided)."""
        gate, changes = self.gate(), self.changes()
        where = str(self.settings.get("baseline") or "the baseline")
        if self.settings.get("baseline_saved"):
            where += f", saved {self.settings['baseline_saved']}"
        words = {"regression": "regression(s)", "review": "to review", "allowed": "allowed", "change": "other change(s)"}
        if changes:
            what = ", ".join(f"{n} {w}" for k, w in words.items() if (n := sum(c["label"] == k for c in changes)))
            if self.settings.get("allow"):
                what += f"; allowed kinds: {', '.join(self.settings['allow'])}"
        else:
            what = "no change" if gate is not None and gate.status == "PASS" else gate.summary if gate else ""
        return f"{where}: {what}"


def build(results: Iterable[CheckResult], fail_on: str, cluster: dict[str, Any] | None = None,
          settings: dict[str, Any] | None = None) -> Report:
    results = sorted(results, key=lambda r: r.id)
    cat = catalog.checks()
    pairs = [(cat[r.id], r) for r in results]
    g = grading.grade(pairs, fail_on)
    entries = [CheckEntry(
        id=r.id, title=c.title, category=c.category, severity=c.severity.value, status=r.status.value,
        summary=r.summary, remediation=c.remediation, doc=c.doc, duration_s=round(r.duration_s, 3),
        findings=[f.to_json() for f in r.findings]) for c, r in pairs]
    return Report(
        schema_version=SCHEMA_VERSION, gpucheck_version=__version__,
        generated_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        cluster=dict(cluster or {}), settings={**(settings or {}), "fail_on": fail_on},
        verdict=g.verdict, score=g.score, reasons=list(g.reasons), counts=dict(g.counts),
        categories=[asdict(c) for c in g.categories], checks=entries)
