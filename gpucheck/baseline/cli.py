"""`gpucheck baseline save FILE`, `gpucheck baseline show FILE` and `gpucheck gate --baseline FILE`.

Thin: the suite runs through gpucheck.cli's run_suite with `gpucheck run`'s options; the
plugin writes the baseline and decides the gate (GPU-GATE-001).

Exit codes: `baseline save` 0 once FILE is written, whatever the verdict (a baseline records
the state the cluster is in; the verdict is printed), else the run's code (6 unreachable, 2
interrupted, 4 FILE not writable); `baseline show` 0, or 4 for an unusable file; `gate` the
run's code: 0 only when READY or READY_WITH_WARNINGS and nothing regressed, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import click

from gpucheck import exitcodes, signals
from gpucheck.baseline import show, store
from gpucheck.baseline.diff import ALLOW_KINDS


def _load(path: str, option: str) -> store.Baseline:
    try:
        return store.load(path, option)
    except store.BaselineError as exc:
        click.echo(f"gpucheck: error: {exc}", err=True)
        raise SystemExit(exitcodes.USAGE) from None


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def register(cli: click.Group, run_options: Callable[..., Any], run_suite: Callable[..., int]) -> None:
    """Add `baseline` and `gate` to the main command group. gpucheck.cli hands over its
    run options and runner (passed in, not imported: gpucheck.cli imports this module)."""

    @cli.group("baseline")
    def baseline_group() -> None:
        """Record the cluster's GPU fingerprint before an upgrade (see `gpucheck gate`)."""

    @baseline_group.command("save", context_settings={"ignore_unknown_options": True})
    @click.argument("file")
    @run_options
    @click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
    def save_cmd(file: str, **options: Any) -> None:
        """Run the checks and write FILE: GPU pools, GPU counts, driver, CUDA and device-plugin
        versions, MIG layouts, taints, and every check's result. Exits 0 once FILE is written,
        also when the verdict is NOT_READY."""
        before = _stamp(file)
        code = run_suite([f"--gpucheck-save-baseline={file}"], **options)
        after = _stamp(file)
        if code in (exitcodes.READY, exitcodes.NOT_READY) and after is not None and after != before:
            sys.exit(exitcodes.READY)
        sys.exit(code or exitcodes.USAGE)

    @baseline_group.command("show")
    @click.argument("file")
    def show_cmd(file: str) -> None:
        """Print the GPU fingerprint and check results a baseline FILE holds."""
        signals.release()  # `baseline` is held for `save`, which runs the suite
        for line in show.lines(_load(file, "baseline show")):
            click.echo(line)

    @cli.command("gate", context_settings={"ignore_unknown_options": True})
    @click.option("--baseline", "baseline_file", required=True, metavar="FILE",
                  help="The baseline to compare with (from `gpucheck baseline save`).")
    @click.option("--allow", multiple=True, type=click.Choice(ALLOW_KINDS), metavar="KIND",
                  help=f"A change the upgrade intends, listed but not a regression (repeatable): "
                       f"{', '.join(ALLOW_KINDS)}.")
    @run_options
    @click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
    def gate_cmd(baseline_file: str, allow: tuple[str, ...], **options: Any) -> None:
        """Run the checks and fail on any regression since the baseline: GPUs lost, a GPU node
        gone, a driver, CUDA, MIG or device-plugin change not allowed, a taint gone, a check
        worse than it was. Exits 0 only when READY (or with warnings) and nothing regressed."""
        _load(baseline_file, "--baseline")
        sys.exit(run_suite([f"--gpucheck-baseline={baseline_file}", *(f"--gpucheck-allow={k}" for k in allow)],
                           **options))
