"""Grading is pure and fails closed."""

from __future__ import annotations

import pytest

from gpucheck import catalog, exitcodes, grading
from gpucheck.model import CheckResult, Finding, Status


def pair(check_id: str, status: Status) -> tuple[catalog.Check, CheckResult]:
    return catalog.get(check_id), CheckResult.of(check_id, [Finding(status, "x", "Node/n")], "x") \
        if status != Status.SKIP else CheckResult.skip(check_id, "x")


def test_all_pass_is_ready_with_full_score():
    g = grading.grade([pair("GPU-DP-001", Status.PASS), pair("GPU-RT-001", Status.PASS)])
    assert (g.verdict, g.score, g.reasons) == ("READY", 100, ())


def test_an_error_anywhere_is_not_ready_even_on_a_minor_check():
    g = grading.grade([pair("GPU-DP-001", Status.PASS), pair("GPU-RT-001", Status.ERROR)], fail_on="critical")
    assert g.verdict == "NOT_READY" and "GPU-RT-001" in g.reasons[0]


def test_an_undecided_critical_check_is_not_ready():
    g = grading.grade([pair("GPU-DP-001", Status.SKIP), pair("GPU-RT-001", Status.PASS)])
    assert g.verdict == "NOT_READY"


def test_nothing_evaluated_is_not_ready():
    assert grading.grade([]).verdict == "NOT_READY"
    assert grading.grade([pair("GPU-DRV-002", Status.SKIP)]).verdict == "NOT_READY"


@pytest.mark.parametrize("fail_on,verdict", [("critical", "READY_WITH_WARNINGS"), ("major", "NOT_READY"),
                                             ("warn", "NOT_READY")])
def test_fail_on_decides_whether_a_major_failure_blocks(fail_on, verdict):
    g = grading.grade([pair("GPU-DP-001", Status.PASS), pair("GPU-TAINT-001", Status.FAIL)], fail_on=fail_on)
    assert g.verdict == verdict


def test_a_warning_blocks_only_with_fail_on_warn():
    pairs = [pair("GPU-DP-001", Status.PASS), pair("GPU-RT-001", Status.WARN)]
    assert grading.grade(pairs).verdict == "READY_WITH_WARNINGS"
    assert grading.grade(pairs, fail_on="warn").verdict == "NOT_READY"


def test_score_weighs_by_severity():
    # critical (10) passes, major (5) fails, minor (2) warns: (10 + 1) / 17
    g = grading.grade([pair("GPU-DP-001", Status.PASS), pair("GPU-TAINT-001", Status.FAIL),
                       pair("GPU-RT-001", Status.WARN)], fail_on="critical")
    assert g.score == round(100 * 11 / 17)
    cats = {c.category: c for c in g.categories}
    assert cats["taints"].grade == "F" and cats["device-plugin"].grade == "A"


def test_exit_codes_follow_the_policy():
    assert grading.exit_code("READY") == exitcodes.READY == 0
    assert grading.exit_code("READY_WITH_WARNINGS") == 0
    assert grading.exit_code("NOT_READY") == exitcodes.NOT_READY == 1
    assert grading.exit_code("NOT_READY", unreachable=True) == exitcodes.UNREACHABLE


def test_unknown_fail_on_is_rejected():
    with pytest.raises(ValueError):
        grading.grade([], fail_on="sometimes")


def test_catalog_entries_are_complete():
    for c in catalog.checks().values():
        assert c.title and c.remediation and c.doc.startswith("https://"), c.id
