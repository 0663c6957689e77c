"""`pytest --gpucheck` as users run it: options, bad values, exit codes, xdist, reports."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gpucheck import exitcodes, report

pytest_plugins = ["pytester"]


def _report(dirpath: Path) -> dict:
    data = json.loads((dirpath / "report.json").read_text())
    jsonschema.validate(data, report.schema())
    return data


def test_without_the_flag_the_plugin_stays_out_of_the_way(pytester):
    pytester.makepyfile("def test_plain(): assert True")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    assert not (pytester.path / "gpucheck-report").exists()


@pytest.mark.parametrize("args,needle", [
    (["--gpucheck-fail-on=maybe"], "--gpucheck-fail-on: 'maybe' is not one of critical, major, warn"),
    (["--gpucheck-profile=turbo"], "--gpucheck-profile: 'turbo' is not a profile"),
    (["--gpucheck-select=GPU-XX-001"], "unknown check id GPU-XX-001"),
    (["--gpucheck-timeout=0"], "the timeout must be more than 0"),
])
def test_bad_option_values_are_usage_errors_naming_the_option(pytester, args, needle):
    res = pytester.runpytest_subprocess("--gpucheck", *args)
    assert res.ret == exitcodes.USAGE
    assert needle in res.stderr.str()
    assert "Traceback" not in res.stderr.str() + res.stdout.str()


def test_bad_env_value_names_the_variable(pytester, monkeypatch):
    monkeypatch.setenv("GPUCHECK_FAIL_ON", "often")
    res = pytester.runpytest_subprocess("--gpucheck")
    assert res.ret == exitcodes.USAGE and "GPUCHECK_FAIL_ON=often" in res.stderr.str()


def test_unreachable_api_server_is_all_error_not_ready_and_still_reported(pytester, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n")
    res = pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={kubeconfig}",
                                        "--gpucheck-profile=quick", "--gpucheck-timeout=30")
    out = res.stdout.str() + res.stderr.str()
    assert res.ret == exitcodes.UNREACHABLE
    assert "Traceback" not in out
    data = _report(pytester.path / "gpucheck-report")
    assert data["verdict"] == "NOT_READY"
    assert {c["status"] for c in data["checks"]} == {"ERROR"}
    assert all("cannot reach the API server at https://127.0.0.1:9" in c["summary"] for c in data["checks"])
    assert "cannot reach the API server" in out


@pytest.mark.parametrize("content,needle", [
    ("{{ not yaml", "is not usable"),
    ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", "is not usable"),
])
def test_broken_kubeconfig_is_graded_error_naming_the_file(pytester, tmp_path, content, needle):
    kubeconfig = tmp_path / "broken-kubeconfig"
    kubeconfig.write_text(content)
    res = pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={kubeconfig}", "--gpucheck-profile=quick")
    assert res.ret == exitcodes.UNREACHABLE
    data = _report(pytester.path / "gpucheck-report")
    assert {c["status"] for c in data["checks"]} == {"ERROR"}
    assert str(kubeconfig) in data["checks"][0]["summary"] and needle in data["checks"][0]["summary"]
    assert "Traceback" not in res.stdout.str() + res.stderr.str()


@pytest.mark.sim
def test_unknown_context_is_named(pytester, sim):
    res = pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={sim.kubeconfig}",
                                        "--gpucheck-context=prod-eu", "--gpucheck-profile=quick")
    assert res.ret == exitcodes.UNREACHABLE
    data = _report(pytester.path / "gpucheck-report")
    assert "has no context 'prod-eu'" in data["checks"][0]["summary"]


@pytest.mark.sim
def test_empty_directory_run_writes_four_files_and_verdict_matches_exit(pytester, sim):
    res = pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={sim.kubeconfig}")
    d = pytester.path / "gpucheck-report"
    assert sorted(p.name for p in d.iterdir()) == ["junit.xml", "report.html", "report.json", "report.md"]
    data = _report(d)
    assert data["verdict"] == "READY" and res.ret == exitcodes.READY
    assert "gpucheck verdict: READY" in res.stdout.str()


@pytest.mark.sim
def test_xdist_workers_merge_into_one_report(pytester, sim):
    single = pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={sim.kubeconfig}",
                                           "--gpucheck-report=one")
    multi = pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={sim.kubeconfig}",
                                          "--gpucheck-report=many", "-n", "2")
    a, b = _report(pytester.path / "one"), _report(pytester.path / "many")
    assert [(c["id"], c["status"]) for c in a["checks"]] == [(c["id"], c["status"]) for c in b["checks"]]
    assert single.ret == multi.ret == exitcodes.READY
    assert multi.stdout.str().count("gpucheck verdict:") == 1


@pytest.mark.sim
def test_select_and_skip_choose_checks(pytester, sim):
    pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={sim.kubeconfig}",
                                  "--gpucheck-select=GPU-DP-001,GPU-RT-001,GPU-TAINT-001",
                                  "--gpucheck-skip=GPU-RT-001")
    data = _report(pytester.path / "gpucheck-report")
    assert [c["id"] for c in data["checks"]] == ["GPU-DP-001", "GPU-TAINT-001"]


@pytest.mark.sim
def test_a_failing_check_makes_the_run_not_ready_with_exit_1(pytester, sim, api):
    from gpucheck.sim import scenarios

    scenarios.apply(api, "gpu-node-untainted")
    try:
        res = pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={sim.kubeconfig}")
    finally:
        scenarios.revert(api, "gpu-node-untainted")
    data = _report(pytester.path / "gpucheck-report")
    assert data["verdict"] == "NOT_READY" and res.ret == exitcodes.NOT_READY
    taint = next(c for c in data["checks"] if c["id"] == "GPU-TAINT-001")
    assert taint["status"] == "FAIL" and "gpu-l4-0" in taint["summary"]
    assert "fix: Taint every GPU node" in res.stdout.str()


def test_collect_only_lists_the_checks_and_keeps_the_last_report(pytester, tmp_path):
    """`--co` is how users see what a run would check: it must not touch the cluster (the
    kubeconfig does not even exist) nor replace the last real report with one of ERRORs."""
    last = pytester.path / "gpucheck-report"
    last.mkdir()
    (last / "report.json").write_text('{"verdict": "READY"}')
    res = pytester.runpytest_subprocess("--gpucheck", f"--gpucheck-kubeconfig={tmp_path / 'none'}",
                                        "--gpucheck-profile=quick", "--co", "-q")
    out = res.stdout.str()
    assert res.ret == 0, out
    listed = next(line for line in out.splitlines() if line.startswith("collect-only: "))
    assert "of the 'quick' profile would run: GPU-INV-001," in listed
    assert "GPU-TAINT-001" in listed and "GPU-SMI-001" not in listed  # quick: API checks only
    assert "no report written" in out and "NOT_READY" not in out
    assert sorted(p.name for p in last.iterdir()) == ["report.json"]
    assert (last / "report.json").read_text() == '{"verdict": "READY"}'
