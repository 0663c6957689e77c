"""GPU-METRICS-002: the configured Prometheus has a DCGM_FI_DEV_GPU_UTIL series for every GPU
(one instant query)."""

from __future__ import annotations

from typing import Any

import requests

from gpucheck.inventory import gpu_nodes
from gpucheck.model import CheckResult, Finding, Status

CID = "GPU-METRICS-002"
QUERY = "DCGM_FI_DEV_GPU_UTIL"


def series(snap: Any, settings: Any) -> CheckResult:
    url = settings.metrics.prometheusUrl
    if not url:
        return CheckResult.skip(CID, "no Prometheus configured (metrics.prometheusUrl)")
    want = sum(gpu_nodes.physical_gpus(g) or 0 for g in gpu_nodes.find(snap.nodes))
    try:
        r = requests.get(f"{url.rstrip('/')}/api/v1/query", params={"query": QUERY}, timeout=10)
        data = r.json()
    except (requests.RequestException, ValueError) as exc:
        return CheckResult.error(CID, f"Prometheus at {url} did not answer the query {QUERY}: {type(exc).__name__}")
    if r.status_code != 200 or data.get("status") != "success":
        return CheckResult.error(CID, f"Prometheus at {url}: query {QUERY} failed ({r.status_code} {data.get('error', '')})")
    result = data.get("data", {}).get("result", [])
    per_node: dict[str, int] = {}
    for s in result:
        m = s.get("metric", {})
        node = m.get("Hostname") or m.get("kubernetes_node") or m.get("node") or m.get("instance", "?")
        per_node[node] = per_node.get(node, 0) + 1
    ev = {"series": len(result), "gpus": want, "per_node": per_node}
    if not result:
        f = Finding(Status.FAIL, f"no {QUERY} series in Prometheus at {url}: dcgm-exporter is not scraped", "Prometheus", ev)
    elif len(result) < want:
        f = Finding(Status.WARN, f"{len(result)} {QUERY} series for {want} GPUs: some GPUs are not monitored", "Prometheus", ev)
    else:
        f = Finding(Status.PASS, f"{len(result)} {QUERY} series for {want} GPUs", "Prometheus", ev)
    return CheckResult.of(CID, [f], f.message)
