"""The check catalog: every check's metadata, declared as data in checks.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Collection

import yaml

from gpucheck.model import Severity

PROFILES = ("quick", "standard", "full")
INPUTS = ("baseline",)  # what a check may need besides the cluster (see Check.needs)


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    category: str
    severity: Severity
    profile: str
    remediation: str
    doc: str
    needs: str | None = None  # an input the check compares against ("baseline"); without it, it does not run

    def runs_in(self, profile: str, inputs: Collection[str] = ()) -> bool:
        """Whether a run of `profile` given `inputs` (such as "baseline") runs this check."""
        return PROFILES.index(self.profile) <= PROFILES.index(profile) and (self.needs is None or self.needs in inputs)


class CatalogError(ValueError):
    pass


@lru_cache(maxsize=1)
def checks() -> dict[str, Check]:
    raw = yaml.safe_load((resources.files("gpucheck.catalog") / "checks.yaml").read_text())
    out: dict[str, Check] = {}
    for entry in raw:
        try:
            check = Check(
                id=entry["id"], title=entry["title"], category=entry["category"],
                severity=Severity(entry["severity"]), profile=entry["profile"],
                remediation=" ".join(entry["remediation"].split()), doc=entry["doc"], needs=entry.get("needs"),
            )
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"checks.yaml entry {entry.get('id', '?')}: {exc}") from None
        if check.profile not in PROFILES:
            raise CatalogError(f"{check.id}: profile must be one of {', '.join(PROFILES)}")
        if check.needs not in (None, *INPUTS):
            raise CatalogError(f"{check.id}: needs must be one of {', '.join(INPUTS)}")
        if check.id in out:
            raise CatalogError(f"duplicate check id {check.id}")
        out[check.id] = check
    return out


def get(check_id: str) -> Check:
    try:
        return checks()[check_id]
    except KeyError:
        raise CatalogError(f"unknown check id {check_id!r}") from None
