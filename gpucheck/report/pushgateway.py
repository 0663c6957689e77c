"""Push a run's verdict to a Prometheus Pushgateway, so alerts can fire on it.

Metrics (job="gpucheck", grouping key `cluster`), replacing the group's previous push:

    gpucheck_verdict{verdict}                    1 for this run's verdict, 0 for the other two
    gpucheck_score                               0-100
    gpucheck_check_status{check,severity,status} 1 for each check's status, 0 for its other statuses
    gpucheck_last_run_timestamp_seconds          when the run ended (alert when it grows old)
"""

from __future__ import annotations

import time
import urllib.error

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from gpucheck.grading import NOT_READY, READY, READY_WITH_WARNINGS
from gpucheck.model import Status
from gpucheck.report.model import Report

JOB = "gpucheck"
VERDICTS = (READY, READY_WITH_WARNINGS, NOT_READY)


class PushError(RuntimeError):
    """The Pushgateway did not take the metrics; the message names its URL and why."""


def registry(report: Report, now: float | None = None) -> CollectorRegistry:
    reg = CollectorRegistry()
    verdict = Gauge("gpucheck_verdict", "1 for the verdict of the last gpucheck run", ["verdict"], registry=reg)
    for v in VERDICTS:
        verdict.labels(verdict=v).set(1 if report.verdict == v else 0)
    Gauge("gpucheck_score", "Readiness score of the last gpucheck run (0-100)", registry=reg).set(report.score)
    status = Gauge("gpucheck_check_status", "1 for the status each check had in the last gpucheck run",
                   ["check", "severity", "status"], registry=reg)
    for c in report.checks:
        for s in Status:
            status.labels(check=c.id, severity=c.severity, status=s.value).set(1 if c.status == s.value else 0)
    Gauge("gpucheck_last_run_timestamp_seconds", "When the last gpucheck run ended (Unix time)",
          registry=reg).set(time.time() if now is None else now)
    return reg


def push(url: str, report: Report, cluster: str, timeout: float = 10.0) -> None:
    """PUT the run's metrics under job="gpucheck", cluster=<cluster>; raises PushError."""
    try:
        push_to_gateway(url, job=JOB, registry=registry(report), grouping_key={"cluster": cluster},
                        timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise PushError(f"the Pushgateway at {url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PushError(f"cannot push to the Pushgateway at {url}: {reason}") from None
