"""The documented CI jobs (docs/ci/) are valid YAML and use only options and commands that exist:
every `--gpucheck-*` is asked of this pytest's own parser (the plugin is loaded), every
`gpucheck ...` command of the click group; the README's deploy commands too."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from gpucheck import __version__
from gpucheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = {"github-actions.yml": lambda d: [s.get("run", "") for job in d["jobs"].values() for s in job["steps"]],
        "gitlab-ci.yml": lambda d: [c for job in d.values() if isinstance(job, dict) and "script" in job
                                    for c in job.get("before_script", []) + job["script"] + job.get("after_script", [])]}


def _commands(name: str) -> list[str]:
    data = yaml.safe_load((ROOT / "docs" / "ci" / name).read_text())
    return [line for text in DOCS[name](data) for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Three ways to run it", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", section, re.S)
    return [line.split(" #")[0] for b in blocks for line in b.replace("\\\n", " ").splitlines()
            if line.strip() and not line.startswith("#")]


def _check_gpucheck_command(line: str) -> None:
    for part in re.split(r"\||&&|;", line):
        words = shlex.split(part)
        if not words or words[0] != "gpucheck":
            continue
        cmd: click.Command = cli
        ctx = click.Context(cli)
        args = words[1:]
        while isinstance(cmd, click.Group) and args and not args[0].startswith("-"):
            sub = cmd.get_command(ctx, args[0])
            assert sub is not None, f"{line!r}: gpucheck has no command {args[0]!r}"
            cmd, args = sub, args[1:]
        known = {o for p in cmd.params for o in getattr(p, "opts", [])} | {"--help", "-h", "--version"}
        for a in args:
            if a.startswith("-"):
                assert a.split("=")[0] in known, f"{line!r}: {' '.join(words[:2])} has no option {a}"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_ci_job_uses_only_real_options_and_commands(name, pytestconfig):
    lines = _commands(name)
    used = {o for line in lines for o in re.findall(r"--gpucheck(?:-[a-z]+)*", line)}
    assert {"--gpucheck", "--gpucheck-kubeconfig", "--gpucheck-report"} <= used
    for opt in used:
        pytestconfig.getoption(opt[2:].replace("-", "_"))  # ValueError for an option pytest lacks
    for line in lines:
        _check_gpucheck_command(line)
    text = (ROOT / "docs" / "ci" / name).read_text()
    assert f"gpucheck=={__version__}" in text
    assert "gpucheck-report/junit.xml" in text and "gpucheck-report/report.md" in text


def test_github_job_summary_and_artifacts_run_always():
    data = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text())
    steps = data["jobs"]["gpucheck"]["steps"]
    gate = next(i for i, s in enumerate(steps) if "--gpucheck" in s.get("run", ""))
    assert all(s.get("if") == "always()" for s in steps[gate + 1:])
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") for s in steps)


def test_gitlab_job_keeps_the_report_always():
    job = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text())["gpucheck"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "gpucheck-report/junit.xml"


def test_readme_commands_exist():
    lines = _readme_commands()
    assert any(line.startswith("gpucheck deploy cronjob") for line in lines)
    for line in lines:
        _check_gpucheck_command(line)
