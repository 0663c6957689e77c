"""Results -> verdict, score and per-category grades. Pure; no I/O.

gpucheck fails closed: an ERROR anywhere, or a critical check that failed or could not be
decided (SKIP), makes the verdict NOT_READY whatever --fail-on says; an empty run is
NOT_READY too, because nothing was shown to be ready.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from gpucheck import exitcodes
from gpucheck.catalog import Check
from gpucheck.model import CheckResult, Severity, Status

READY = "READY"
READY_WITH_WARNINGS = "READY_WITH_WARNINGS"
NOT_READY = "NOT_READY"

WEIGHTS = {Severity.CRITICAL: 10, Severity.MAJOR: 5, Severity.MINOR: 2, Severity.INFO: 0}
CREDIT = {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0, Status.ERROR: 0.0}
FAIL_ON = ("critical", "major", "warn")


@dataclass(frozen=True)
class CategoryGrade:
    category: str
    score: int
    grade: str
    counts: dict[str, int]


@dataclass(frozen=True)
class Grade:
    verdict: str
    score: int
    reasons: tuple[str, ...]
    categories: tuple[CategoryGrade, ...] = field(default_factory=tuple)
    counts: dict[str, int] = field(default_factory=dict)


def _score(pairs: list[tuple[Check, CheckResult]]) -> int | None:
    total = earned = 0.0
    for check, result in pairs:
        if result.status == Status.SKIP:
            continue
        w = WEIGHTS[check.severity]
        total += w
        earned += w * CREDIT[result.status]
    if total == 0:
        return None
    return round(100 * earned / total)


def letter(score: int | None) -> str:
    if score is None:
        return "-"
    for cut, g in ((90, "A"), (80, "B"), (70, "C"), (60, "D")):
        if score >= cut:
            return g
    return "F"


def _blocks(check: Check, result: CheckResult, fail_on: str) -> bool:
    if result.status == Status.FAIL:
        if fail_on == "critical":
            return check.severity == Severity.CRITICAL
        if fail_on == "major":
            return check.severity in (Severity.CRITICAL, Severity.MAJOR)
        return check.severity != Severity.INFO
    if result.status == Status.WARN:
        return fail_on == "warn" and check.severity != Severity.INFO
    return False


def grade(pairs: Iterable[tuple[Check, CheckResult]], fail_on: str = "major") -> Grade:
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    pairs = list(pairs)
    counts = {s.value: 0 for s in Status}
    for _, r in pairs:
        counts[r.status.value] += 1
    reasons: list[str] = []
    for check, r in pairs:
        if r.status == Status.ERROR:
            reasons.append(f"{check.id} could not be evaluated: {r.summary or 'error'}")
        elif check.severity == Severity.CRITICAL and r.status == Status.SKIP:
            reasons.append(f"{check.id} (critical) was not decided: {r.summary or 'skipped'}")
        elif _blocks(check, r, fail_on):
            reasons.append(f"{check.id} ({check.severity.value}) {r.status.value}: {r.summary or check.title}")
    evaluated = [r for _, r in pairs if r.status != Status.SKIP]
    if not evaluated:
        reasons.append("no check was evaluated")
    score = _score(pairs)
    if reasons:
        verdict = NOT_READY
    elif any(r.status in (Status.FAIL, Status.WARN) for r in evaluated):
        verdict = READY_WITH_WARNINGS
    else:
        verdict = READY
    cats: dict[str, list[tuple[Check, CheckResult]]] = {}
    for check, r in pairs:
        cats.setdefault(check.category, []).append((check, r))
    categories = []
    for name in sorted(cats):
        c_counts = {s.value: 0 for s in Status}
        for _, r in cats[name]:
            c_counts[r.status.value] += 1
        c_score = _score(cats[name])
        categories.append(CategoryGrade(name, c_score if c_score is not None else 0, letter(c_score), c_counts))
    return Grade(verdict, score if score is not None else 0, tuple(reasons), tuple(categories), counts)


def exit_code(verdict: str, unreachable: bool = False) -> int:
    if verdict == NOT_READY:
        return exitcodes.UNREACHABLE if unreachable else exitcodes.NOT_READY
    return exitcodes.READY
