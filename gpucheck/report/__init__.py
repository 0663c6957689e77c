"""One report model (model.py), many renderers; write_all puts every format in one directory."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from gpucheck.report import html, junit, markdown
from gpucheck.report.model import Report, build

FORMATS = {"json": "report.json", "junit": "junit.xml", "md": "report.md", "html": "report.html"}
DEFAULT_DIR = "gpucheck-report"  # under the working directory, when no report directory is set


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n"
    if fmt == "junit":
        return junit.render(report)
    if fmt == "md":
        return markdown.render(report)
    if fmt == "html":
        return html.render(report)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


def write_all(report: Report, directory: str | Path | None) -> dict[str, str]:
    d = Path(directory or DEFAULT_DIR)
    d.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt, name in FORMATS.items():
        (d / name).write_text(render(report, fmt), encoding="utf-8")
        paths[fmt] = str(d / name)
    return paths


def schema() -> dict:
    return json.loads((resources.files("gpucheck._reports") / "report.schema.json").read_text())


__all__ = ["Report", "build", "render", "write_all", "schema", "FORMATS", "DEFAULT_DIR"]
