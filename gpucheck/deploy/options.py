"""The options of `gpucheck deploy cronjob`, validated: a bad value is an OptionError naming the option."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gpucheck import __version__

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?(/[^\s]*)?$")
PROFILES = ("quick", "standard")  # `full` needs an Airflow and per-run namespaces: not a nightly audit
REPORTS = ("configmap", "pvc")
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# cron field -> (lowest, highest, names allowed)
_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
           ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
           ("day of week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")))


class OptionError(ValueError):
    """A deploy option is invalid; `option` names it (`--schedule`), the message says why."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option


@dataclass(frozen=True)
class DeployOptions:
    namespace: str = "gpucheck"
    schedule: str = "0 3 * * *"
    image: str = f"gpucheck:{__version__}"
    profile: str = "standard"
    config_file: str | None = None
    config_text: str = ""  # the config file's text, mounted verbatim for the run
    reports: str = "configmap"
    keep_reports: int = 14
    pvc_size: str = "1Gi"
    pushgateway: str | None = None
    cluster_name: str | None = None  # the Pushgateway grouping key `cluster`


def check_schedule(schedule: str) -> str:
    text = " ".join(schedule.split())
    if text in MACROS:
        return text
    parts = text.split(" ")
    if len(parts) != 5:
        raise OptionError("--schedule", f"{schedule!r} is not a cron schedule: it needs 5 fields "
                          "(minute hour day-of-month month day-of-week), like '0 3 * * *', or one of "
                          + ", ".join(MACROS))
    for part, (field, low, high, names) in zip(parts, _FIELDS):
        for item in part.split(","):
            _check_cron_item(schedule, item, field, low, high, names)
    return text


def _check_cron_item(schedule: str, item: str, field: str, low: int, high: int, names: tuple[str, ...]) -> None:
    base, _, step = item.partition("/")
    if step and not (step.isdigit() and int(step) > 0):
        raise OptionError("--schedule", f"{schedule!r}: {field} step {step!r} is not a positive number")
    if base in ("*", "?"):
        return
    for bound in base.split("-", 1):
        if bound.upper() in names:
            continue
        if not bound.isdigit() or not low <= int(bound) <= high:
            raise OptionError("--schedule", f"{schedule!r}: {field} {bound!r} is not in {low}-{high}")


def check_image(image: str) -> str:
    if not image or any(c.isspace() for c in image):
        raise OptionError("--image", f"{image!r} is not an image reference")
    if "@sha256:" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    if not tag or tag == "latest":
        raise OptionError("--image", f"{image!r} has no pinned tag: name a version or digest "
                          f"(gpucheck:{__version__}, ...@sha256:...), never latest")
    return image


def validate(**raw: Any) -> DeployOptions:
    """DeployOptions from raw option values (None: the default); raises OptionError."""
    values = {k: v for k, v in raw.items() if v is not None}
    opts = DeployOptions(**values)
    if not DNS_LABEL.match(opts.namespace):
        raise OptionError("--namespace", f"{opts.namespace!r} is not a valid namespace name (a DNS label: "
                          "lowercase letters, digits and '-', at most 63)")
    if opts.profile not in PROFILES:
        raise OptionError("--profile", f"{opts.profile!r} is not one of {', '.join(PROFILES)} (the full profile's "
                          "sweep needs an Airflow; run it from CI)")
    if opts.reports not in REPORTS:
        raise OptionError("--reports", f"{opts.reports!r} is not one of {', '.join(REPORTS)}")
    if not QUANTITY.match(opts.pvc_size):
        raise OptionError("--pvc-size", f"{opts.pvc_size!r} is not a storage quantity like 1Gi")
    if opts.keep_reports < 1:
        raise OptionError("--keep-reports", f"keep at least 1 report, not {opts.keep_reports}")
    if opts.pushgateway is not None and not URL.match(opts.pushgateway):
        raise OptionError("--pushgateway", f"{opts.pushgateway!r} is not an http(s) URL like "
                          "http://pushgateway.monitoring:9091")
    if opts.cluster_name is not None and not re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,62}", opts.cluster_name):
        raise OptionError("--cluster-name", f"{opts.cluster_name!r}: use letters, digits, '-', '_' and '.'")
    check_image(opts.image)
    from dataclasses import replace

    return replace(opts, schedule=check_schedule(opts.schedule))
