"""A run's summary as a ConfigMap: where a nightly in-cluster audit leaves its answer.

One ConfigMap `gpucheck-report-<run id>` per run, labelled, holding `summary.json`: verdict,
score, counts, reasons and per check its id, severity, status and summary, without findings,
so it stays far below the API server's 1 MiB object limit on any cluster. Only the newest
`keep` of them are kept. Read the latest with
`kubectl get cm -n NS -l gpucheck.dev/report=summary --sort-by=.metadata.creationTimestamp`.
"""

from __future__ import annotations

import json
from typing import Any

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure
from gpucheck.cluster.workspace import MANAGED_BY, RUN_LABEL
from gpucheck.report.model import Report

SUMMARY_KEY = "summary.json"
REPORT_LABEL = "gpucheck.dev/report"
SELECTOR = f"{next(iter(MANAGED_BY))}={next(iter(MANAGED_BY.values()))},{REPORT_LABEL}=summary"
MAX_TEXT = 400  # characters kept of a check summary or a reason (one per node on a big cluster)
MAX_BYTES = 256 * 1024  # our own ceiling, a quarter of the API server's 1 MiB


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def summary(report: Report) -> dict[str, Any]:
    """The report without findings, every free text cut to MAX_TEXT characters."""
    data = {
        "schema_version": report.schema_version, "gpucheck_version": report.gpucheck_version,
        "generated_at": report.generated_at, "server": report.cluster.get("server"),
        "profile": report.settings.get("profile"), "verdict": report.verdict, "score": report.score,
        "counts": report.counts, "reasons": [_cut(r) for r in report.reasons],
        "checks": [{"id": c.id, "severity": c.severity, "status": c.status, "summary": _cut(c.summary)}
                   for c in report.checks],
    }
    if len(json.dumps(data)) > MAX_BYTES:  # only with a catalog far larger than today's
        data["reasons"] = data["reasons"][:20]
        for c in data["checks"]:
            c["summary"] = c["summary"][:80]
    return data


def configmap(report: Report, run_id: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"gpucheck-report-{run_id}",
                         "labels": {**MANAGED_BY, RUN_LABEL: run_id, REPORT_LABEL: "summary"},
                         "annotations": {"gpucheck.dev/verdict": report.verdict,
                                         "gpucheck.dev/score": str(report.score),
                                         "gpucheck.dev/generated-at": report.generated_at}},
            "data": {SUMMARY_KEY: json.dumps(summary(report), indent=1, ensure_ascii=False) + "\n"}}


def publish(cluster: Cluster, namespace: str, report: Report, run_id: str, keep: int) -> tuple[str, list[str]]:
    """Create this run's ConfigMap, then delete the oldest beyond `keep`; returns (name, deleted)."""
    body = configmap(report, run_id)
    name = body["metadata"]["name"]
    try:
        cluster.call(cluster.core.create_namespaced_config_map, namespace, body, verb="create",
                     resource="configmaps")
    except ApiFailure as exc:
        if exc.status != 409:  # a retried create that found its own first attempt
            raise
    return name, prune(cluster, namespace, keep)


def prune(cluster: Cluster, namespace: str, keep: int) -> list[str]:
    items = cluster.list_views(cluster.core.list_namespaced_config_map, namespace, resource="configmaps",
                               label_selector=SELECTOR)
    newest_first = sorted(items, key=lambda cm: (cm.metadata.creation_timestamp or "",
                                                 (cm.metadata.annotations or {}).get("gpucheck.dev/generated-at", ""),
                                                 cm.metadata.name), reverse=True)
    deleted = []
    for cm in newest_first[keep:]:
        try:
            cluster.call(cluster.core.delete_namespaced_config_map, cm.metadata.name, namespace, verb="delete",
                         resource="configmaps")
        except ApiFailure as exc:
            if exc.status != 404:
                raise
        deleted.append(cm.metadata.name)
    return deleted
