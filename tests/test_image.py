"""The container image's Dockerfile, checked without a Docker engine: two stages, slim pinned
bases, wheels only in the runtime stage, a numeric non-root user, `gpucheck` as entrypoint,
and a constraints file that pins every core dependency the wheels step resolves.
(bench/image_install.py runs the Dockerfile's pip steps for real; it needs PyPI.)"""

from __future__ import annotations

import fnmatch
import importlib.metadata as md
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for op, rest in _instructions():
        if op == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((op, rest))
    return stages


def _args() -> dict[str, str]:
    out = {}
    for op, rest in _instructions():
        if op == "ARG" and "=" in rest:
            k, _, v = rest.partition("=")
            out[k] = v.strip('"')
    return out


def test_two_stages_from_pinned_slim_images():
    stages = _stages()
    assert len(stages) == 2
    assert stages[0][0][1].endswith("AS builder")
    args = _args()
    for stage in stages:
        image = stage[0][1].split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest", image
        assert "slim" in tag and tag.startswith("3.11"), image


def test_runtime_stage_installs_wheels_only_and_runs_as_a_numeric_non_root_user():
    runtime = _stages()[-1]
    runs = [rest for op, rest in runtime if op == "RUN"]
    assert any("pip install --no-index --find-links /wheels" in r for r in runs)
    assert not any(re.search(r"apt-get|apk |gcc|build-essential", r) for r in runs)
    assert "/wheels" in " ".join(r for r in runs if "rm -rf" in r)  # the wheels do not stay in the image
    user = [rest for op, rest in runtime if op == "USER"][-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit())
    env = " ".join(rest for op, rest in runtime if op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "HOME=/tmp" in env
    assert json.loads([rest for op, rest in runtime if op == "ENTRYPOINT"][-1]) == ["gpucheck"]
    cmd = json.loads([rest for op, rest in runtime if op == "CMD"][-1])
    assert cmd[0] == "run"


def test_the_builder_pins_with_the_constraints_file_and_copies_only_what_exists():
    builder = _stages()[0]
    wheel = next(rest for op, rest in builder if op == "RUN" and "pip wheel" in rest)
    assert "--constraint constraints/airflow-3.3.2-py3.11.txt" in wheel
    ignore = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    for op, rest in builder:
        if op == "COPY" and "--from" not in rest:
            for src in shlex.split(rest)[:-1]:
                assert (ROOT / src).exists(), src
                included = False
                for pattern in ignore:  # the last matching line wins, as Docker reads it
                    neg = pattern.startswith("!")
                    pat = pattern.lstrip("!").rstrip("/")
                    if fnmatch.fnmatch(src.rstrip("/"), pat):
                        included = neg
                assert included, f"{src} is excluded by .dockerignore"


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_constraints_file_pins_every_core_dependency():
    pins = {}
    for line in (ROOT / "constraints" / "airflow-3.3.2-py3.11.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_key(name)] = version.strip()
    top = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo = [Requirement(r) for r in top]
    seen, missing = set(), []
    while todo:
        req = todo.pop()
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        key = _key(req.name)
        if key in seen:
            continue
        seen.add(key)
        if key not in pins:
            missing.append(req.name)
            continue
        if not req.specifier.contains(pins[key], prereleases=True):
            missing.append(f"{req.name} (pin {pins[key]} outside {req.specifier})")
        try:
            todo += [Requirement(r) for r in md.requires(req.name) or []]
        except md.PackageNotFoundError:
            pytest.fail(f"{req.name} is a dependency but not installed; reinstall gpucheck")
    assert not missing, f"core dependencies the constraints file does not pin: {missing}"
    assert len(seen) > 20
