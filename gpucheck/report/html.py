"""A self-contained HTML report: inline CSS and SVG, no script, no network.

Every cluster-provided string goes through Jinja2's autoescaping: node names, labels and
messages are data, never markup.
"""

from __future__ import annotations

import json
import math
from importlib import resources

import jinja2

from gpucheck.report.model import Report

COLORS = {"PASS": "#1a7f37", "WARN": "#9a6700", "FAIL": "#cf222e", "SKIP": "#6e7781", "ERROR": "#8250df"}
CHANGE_COLORS = {"regression": COLORS["FAIL"], "review": COLORS["WARN"], "allowed": "#0969da", "change": COLORS["SKIP"]}


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (resources.files("gpucheck._reports") / name).read_text(encoding="utf-8")),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True)
    return env


def _donut(score: int, verdict: str) -> dict[str, float | str]:
    r = 54.0
    circ = 2 * math.pi * r
    color = {"READY": COLORS["PASS"], "READY_WITH_WARNINGS": COLORS["WARN"]}.get(verdict, COLORS["FAIL"])
    return {"r": r, "circ": round(circ, 2), "dash": round(circ * score / 100, 2), "color": color}


def _timeline(report: Report) -> dict | None:
    """Bars for the sweep's pods (waiting, starting, running) from GPU-SWEEP-002's evidence."""
    rows = next((f.get("evidence", {}).get("timeline") for c in report.checks if c.id == "GPU-SWEEP-002"
                 for f in c.findings if f.get("evidence", {}).get("timeline")), None)
    if not rows:
        return None
    end = max((t.get(k) or 0) for t in rows for k in ("finished", "deleted", "running", "scheduled", "created")) or 1
    width, row_h = 860.0, 6
    scale = width / end
    bars = []
    for i, t in enumerate(rows):
        created = t.get("created") or 0
        steps = [("waiting", created, t.get("scheduled")), ("starting", t.get("scheduled"), t.get("running")),
                 ("running", t.get("running"), t.get("finished") or t.get("deleted"))]
        for kind, a, b in steps:
            if a is not None and b is not None and b >= a:
                bars.append({"kind": kind, "x": round(40 + a * scale, 1), "y": 10 + i * row_h,
                             "w": round(max((b - a) * scale, 1), 1), "title": f"experiment {t.get('experiment')}: "
                             f"{kind} {b - a:.1f}s"})
    ticks = [{"x": round(40 + s * scale, 1), "label": f"{s:g}s"}
             for s in range(0, int(end) + 1, max(int(end // 8) or 1, 1))]
    return {"bars": bars, "height": 30 + len(rows) * row_h, "ticks": ticks, "pods": len(rows), "end": round(end, 1)}


def render(report: Report) -> str:
    nodes, ids, cells = report.node_matrix()
    total = sum(report.counts.values()) or 1
    bars, x = [], 0.0
    for status, n in report.counts.items():
        if n:
            w = 100 * n / total
            bars.append({"status": status, "n": n, "x": round(x, 2), "w": round(w, 2), "color": COLORS[status]})
            x += w
    order = {"ERROR": 0, "FAIL": 1, "WARN": 2, "PASS": 3, "SKIP": 4}
    checks = sorted(report.checks, key=lambda c: (order.get(c.status, 5), c.id))
    return _env().get_template("report.html.j2").render(
        r=report, checks=checks, colors=COLORS, donut=_donut(report.score, report.verdict), bars=bars,
        matrix_nodes=nodes, matrix_ids=ids, cells=cells, timeline=_timeline(report),
        gate=report.gate(), changes=report.changes(), change_colors=CHANGE_COLORS,
    )
