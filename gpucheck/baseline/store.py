"""The baseline file: a cluster's GPU fingerprint and check results at one moment, as JSON.

    {"format_version": 1, "created_at": "...Z", "gpucheck_version": "0.1.0",
     "cluster": {"server": "https://..."}, "profile": "quick", "select": [], "skip": [],
     "verdict": "READY", "fingerprint": {...}, "checks": {"GPU-DP-001": {"status", "summary"}}}

Loading validates against reports/baseline.schema.json; a file that is missing, unreadable,
not UTF-8, not JSON or not a baseline raises BaselineError naming the file (a usage error).
Saving writes a temporary file next to the target and renames it over, so a baseline is
never left half-written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from gpucheck import __version__
from gpucheck.model import CheckResult

FORMAT_VERSION = 1


class BaselineError(ValueError):
    """The baseline file cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Baseline:
    created_at: str
    gpucheck_version: str
    cluster: dict[str, Any]
    profile: str
    verdict: str
    fingerprint: dict[str, Any]
    checks: dict[str, dict[str, str]]  # check id -> {"status", "summary"}
    select: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    format_version: int = FORMAT_VERSION

    @property
    def server(self) -> str | None:
        return self.cluster.get("server")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {"format_version": d.pop("format_version"), **d}


def build(fingerprint: dict[str, Any], results: Iterable[CheckResult], *, server: str | None, profile: str,
          verdict: str, select: Iterable[str] = (), skip: Iterable[str] = ()) -> Baseline:
    return Baseline(
        created_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        gpucheck_version=__version__, cluster={"server": server} if server else {}, profile=profile,
        verdict=verdict, fingerprint=fingerprint,
        checks={r.id: {"status": r.status.value, "summary": r.summary} for r in sorted(results, key=lambda r: r.id)},
        select=list(select), skip=list(skip))


def save(baseline: Baseline, path: str | Path) -> None:
    """Write `baseline` to `path` atomically. OSError propagates (the caller names the file)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would make the baseline private to its writer
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(baseline.to_json(), fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads((resources.files("gpucheck._reports") / "baseline.schema.json").read_text(encoding="utf-8"))


def load(path: str | Path, source: str = "") -> Baseline:
    """Read and validate a baseline file. `source` names where the path came from
    (`--gpucheck-baseline`, `GPUCHECK_BASELINE=...`) and leads the error message."""
    import jsonschema

    where = f"{source}: " if source else ""
    p = Path(path)
    if not p.exists():
        raise BaselineError(f"{where}baseline file {path} does not exist")
    if not p.is_file():
        raise BaselineError(f"{where}baseline file {path} is not a file")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise BaselineError(f"{where}baseline file {path} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{where}baseline file {path} is not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"{where}baseline file {path} is not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("format_version"), int) \
            and data["format_version"] > FORMAT_VERSION:
        raise BaselineError(f"{where}baseline file {path} has format version {data['format_version']}, "
                            f"newer than this gpucheck reads ({FORMAT_VERSION}); upgrade gpucheck")
    try:
        jsonschema.validate(data, schema())
    except jsonschema.ValidationError as exc:
        at = "/".join(str(x) for x in exc.absolute_path) or "(top level)"
        why = exc.message if len(exc.message) <= 200 else exc.message[:200] + "..."
        raise BaselineError(f"{where}baseline file {path} is not a gpucheck baseline: {at}: {why}") from None
    fp = data["fingerprint"]
    for name, node in fp["nodes"].items():
        if name not in fp["pools"].get(node["pool"], {}).get("nodes", ()):
            raise BaselineError(f"{where}baseline file {path} is not a gpucheck baseline: fingerprint/nodes/{name}: "
                                f"its pool {node['pool']!r} does not list it")
    return Baseline(**data)
