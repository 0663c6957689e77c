"""`gpucheck smi parse FILE`: what an nvidia-smi output says, as JSON.

Exit 0 on a parsed output, 1 when the output is an nvidia-smi failure (the JSON still printed),
4 when the file cannot be read or is not an nvidia-smi output of the format asked.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from gpucheck import exitcodes
from gpucheck.smi import FORMATS, MAX_BYTES, SmiParseError, parse


@click.group("smi")
def smi() -> None:
    """Read nvidia-smi outputs."""


@smi.command("parse")
@click.argument("file")  # not click.Path(exists=True): click would exit 2, the documented code is 4
@click.option("--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto", show_default=True,
              help="query = `nvidia-smi -q` text, list = `nvidia-smi -L`, mig = `nvidia-smi mig ...`.")
def parse_command(file: str, fmt: str) -> None:
    """Print what the nvidia-smi output in FILE says, as JSON."""
    try:
        report = parse(_read(file), fmt)
    except SmiParseError as exc:
        _fail(f"{file}: {exc}")
    click.echo(json.dumps(report.to_json(), indent=2))
    if report.failure is not None:
        click.echo(f"gpucheck: nvidia-smi failure: {report.failure.kind}: {report.failure.message}", err=True)
        sys.exit(exitcodes.NOT_READY)


def _read(file: str) -> str:
    try:
        with open(file, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        _fail(f"{file}: cannot read it: {exc.strerror or exc}")
    if len(raw) > MAX_BYTES:
        _fail(f"{file}: larger than {MAX_BYTES} bytes; nvidia-smi outputs are far smaller")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"{file}: not UTF-8 text (byte {exc.start}); is it an nvidia-smi output?")


def _fail(message: str) -> NoReturn:
    click.echo(f"gpucheck: error: {message}", err=True)
    sys.exit(exitcodes.USAGE)


if __name__ == "__main__":
    smi()
