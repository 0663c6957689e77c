"""Baseline vs now: every change, and which of them are regressions. Pure.

Regressions: GPUs lost (a node's capacity or allocatable, or a pool's allocatable total when
its nodes changed), a GPU node gone or moved to another pool, a driver, CUDA or device-plugin
version changed or gone, a MIG layout changed, a scheduling taint gone, a check whose status
got worse (PASS -> WARN/FAIL/ERROR, WARN -> FAIL/ERROR, FAIL -> ERROR; SKIP counts as PASS
before) or that ran in the baseline and not now. `allow` names the kinds of change an upgrade
intends (ALLOW_KINDS): such a change is listed as allowed, not as a regression. GPUs lost,
taints gone and check regressions cannot be allowed.

Not regressions, still listed: GPUs and nodes added, versions appearing where none was known,
checks that improved or are new; and, for a person to review, taints added, checks that no
longer decide anything (now SKIP) and a baseline taken on another API server.

Nodes are matched by name. A node new to a pool that existed in the baseline is held to that
pool's baseline (its drivers, CUDA versions, MIG layouts and the taints all its nodes had), and
a pool whose node set changed is compared by its GPU totals, so autoscaled pools whose node
names change are still compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

ALLOW_KINDS = ("driver", "cuda", "device-plugin", "mig", "nodes")
KINDS = ("nodes", "gpus", "driver", "cuda", "mig", "taint", "device-plugin", "check", "cluster")
# How bad a check status is, for "got worse": SKIP before means nothing was shown to be wrong.
_BADNESS = {"SKIP": 0, "PASS": 0, "WARN": 1, "FAIL": 2, "ERROR": 3}


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    object: str  # "Node/gpu-h100-0", "Pool/NVIDIA-H100-80GB-HBM3", "Check/GPU-ALLOC-001", ...
    before: Any
    after: Any
    message: str  # readable alone: "Node/gpu-h100-0: nvidia.com/gpu allocatable 8 -> 7"
    regression: bool = False
    allowed: bool = False  # a regression but for `--allow KIND`
    review: bool = False  # not a regression, but a person should look at it

    @property
    def rank(self) -> int:
        """Listing order: regressions, then changes to review, allowed ones, the rest."""
        return 0 if self.regression else 1 if self.review else 2 if self.allowed else 3


def _change(kind: str, obj: str, before: Any, after: Any, message: str, allow: frozenset[str], *,
            worse: bool = False, review: bool = False) -> Change:
    if worse and kind in allow:
        return Change(kind, obj, before, after, f"{message} (allowed: --allow {kind})", allowed=True)
    return Change(kind, obj, before, after, message, regression=worse, review=review and not worse)


def _resources(res: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(res.items()) if v) or "no GPU resource"


def _layout(m: Mapping[str, Any]) -> str:
    slices = ", ".join(f"{p} x{n}" for p, n in sorted(m["slices"].items()))
    text = m["strategy"] + (f" {m['config']}" if m.get("config") else "")
    return f"{text} ({slices})" if slices else text


def _resource_changes(obj: str, b: Mapping[str, Any], a: Mapping[str, Any], allow: frozenset[str]) -> list[Change]:
    out = []
    names = set(b["capacity"]) | set(b["allocatable"]) | set(a["capacity"]) | set(a["allocatable"])
    for res in sorted(names):
        parts, worse = [], False
        for field in ("capacity", "allocatable"):
            x, y = b[field].get(res, 0), a[field].get(res, 0)
            if x != y:
                parts.append(f"{field} {x} -> {y}")
                worse = worse or y < x
        if parts:
            out.append(_change("gpus", obj, {f: b[f].get(res, 0) for f in ("capacity", "allocatable")},
                               {f: a[f].get(res, 0) for f in ("capacity", "allocatable")},
                               f"{obj}: {res} {', '.join(parts)}", allow, worse=worse))
    return out


_VERSIONS = (("driver", "drivers", "driver"), ("cuda", "cuda", "CUDA"))


def _node_changes(name: str, b: Mapping[str, Any], a: Mapping[str, Any], allow: frozenset[str]) -> list[Change]:
    obj = f"Node/{name}"
    out = []
    if b["pool"] != a["pool"]:
        out.append(_change("nodes", obj, b["pool"], a["pool"], f"{obj}: pool {b['pool']} -> {a['pool']}", allow,
                           worse=True))
    if b["mig"] != a["mig"]:
        # The node's GPU resources follow its MIG layout: the layout change says it all.
        out.append(_change("mig", obj, b["mig"], a["mig"], f"{obj}: MIG {_layout(b['mig'])} -> {_layout(a['mig'])}",
                           allow, worse=True))
    else:
        out += _resource_changes(obj, b, a, allow)
    for field, _, label in _VERSIONS:
        x, y = b[field], a[field]
        if x != y:
            # A version appearing where none was known is news, not a regression.
            out.append(_change(field, obj, x, y, f"{obj}: {label} {x or 'unknown'} -> {y or 'unknown'}", allow,
                               worse=x is not None))
    for t in sorted(set(b["taints"]) - set(a["taints"])):
        out.append(_change("taint", obj, t, None, f"{obj}: taint {t} gone", allow, worse=True))
    for t in sorted(set(a["taints"]) - set(b["taints"])):
        out.append(_change("taint", obj, None, t, f"{obj}: new taint {t} (pods must tolerate it)", allow,
                           review=True))
    return out


def _new_node_changes(name: str, a: Mapping[str, Any], pool: Mapping[str, Any] | None,
                      allow: frozenset[str]) -> list[Change]:
    """A node the baseline did not have, against its pool as the baseline had it."""
    obj = f"Node/{name}"
    out = [_change("nodes", obj, None, {"pool": a["pool"], "allocatable": a["allocatable"]},
                   f"{obj}: new GPU node in pool {a['pool']} ({_resources(a['allocatable'])})", allow)]
    if pool is None:
        return out
    for field, pool_field, label in _VERSIONS:
        known = pool[pool_field]
        if known and a[field] not in known:
            out.append(_change(field, obj, known, a[field],
                               f"{obj}: {label} {a[field] or 'unknown'} on a new node; pool {a['pool']} ran "
                               f"{', '.join(known)} in the baseline", allow, worse=True))
    if pool["mig"] and a["mig"] not in pool["mig"]:
        out.append(_change("mig", obj, pool["mig"], a["mig"],
                           f"{obj}: MIG {_layout(a['mig'])} on a new node; pool {a['pool']} had "
                           f"{'; '.join(_layout(m) for m in pool['mig'])} in the baseline", allow, worse=True))
    for t in sorted(set(pool["taints"]) - set(a["taints"])):
        out.append(_change("taint", obj, t, None, f"{obj}: new node without taint {t}, which every node of pool "
                           f"{a['pool']} carried in the baseline", allow, worse=True))
    return out


def _pool_totals(pool: str, b: Mapping[str, Any] | None, a: Mapping[str, Any] | None,
                 allow: frozenset[str]) -> list[Change]:
    """GPU totals of a pool whose node set changed (nodes replaced, scaled, gone)."""
    if b is None:
        return []  # a new pool: its nodes are listed one by one
    if a is not None and (set(b["nodes"]) == set(a["nodes"]) or b["mig"] != a["mig"]):
        return []  # same nodes: compared one by one; a MIG re-layout changes what the totals count
    obj = f"Pool/{pool}"
    after_alloc, after_nodes = (a["allocatable"], len(a["nodes"])) if a else ({}, 0)
    out = []
    for res in sorted(set(b["allocatable"]) | set(after_alloc)):
        x, y = b["allocatable"].get(res, 0), after_alloc.get(res, 0)
        if x != y:
            gone = "" if a else " (the pool is gone)"
            out.append(_change("gpus", obj, {"allocatable": x, "nodes": len(b["nodes"])},
                               {"allocatable": y, "nodes": after_nodes},
                               f"{obj}: {res} allocatable {x} on {len(b['nodes'])} node(s) -> {y} on "
                               f"{after_nodes} node(s){gone}", allow, worse=y < x))
    return out


def fingerprints(before: Mapping[str, Any], after: Mapping[str, Any], allow: Iterable[str] = ()) -> list[Change]:
    """Changes between two fingerprints (gpucheck.baseline.fingerprint.take)."""
    allow = frozenset(allow)
    bn, an = before["nodes"], after["nodes"]
    out: list[Change] = []
    for name in sorted(set(bn) - set(an)):
        b = bn[name]
        out.append(_change("nodes", f"Node/{name}", {"pool": b["pool"], "allocatable": b["allocatable"]}, None,
                           f"Node/{name}: GPU node gone (pool {b['pool']}, {_resources(b['allocatable'])})", allow,
                           worse=True))
    for name in sorted(set(bn) & set(an)):
        out += _node_changes(name, bn[name], an[name], allow)
    for name in sorted(set(an) - set(bn)):
        out += _new_node_changes(name, an[name], before["pools"].get(an[name]["pool"]), allow)
    for pool in sorted(set(before["pools"]) | set(after["pools"])):
        out += _pool_totals(pool, before["pools"].get(pool), after["pools"].get(pool), allow)
    bp, ap = before["device_plugins"], after["device_plugins"]
    for ref in sorted(set(bp) | set(ap)):
        x, y = bp.get(ref), ap.get(ref)
        if x and not y:
            out.append(_change("device-plugin", ref, x, None, f"{ref}: gone (ran {x['image']})", allow, worse=True))
        elif y and not x:
            out.append(_change("device-plugin", ref, None, y, f"{ref}: new, runs {y['image']}", allow))
        elif x and y and x["image"] != y["image"]:
            what = f"{x['version']} -> {y['version']}" if x["version"] != y["version"] else \
                f"image {x['image']} -> {y['image']}"
            out.append(_change("device-plugin", ref, x, y, f"{ref}: device plugin {what}", allow, worse=True))
    return out


def checks(before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]],
           why_not_run: Callable[[str], str] = lambda cid: "") -> list[Change]:
    """Changes of check status. `why_not_run(id)` explains a check of the baseline that did not
    run now (", this run's profile is quick"); it leads the regression's message."""
    out = []
    for cid in sorted(set(before) | set(after)):
        b, a = before.get(cid), after.get(cid)
        obj = f"Check/{cid}"
        if a is None:
            assert b is not None
            if b["status"] != "SKIP":
                out.append(Change("check", obj, b["status"], None,
                                  f"{cid}: {b['status']} in the baseline, not run now{why_not_run(cid)}",
                                  regression=True))
        elif b is None:
            if a["status"] != "SKIP":
                out.append(Change("check", obj, None, a["status"], f"{cid}: {a['status']}, not in the baseline "
                                  f"({a['summary']})", review=a["status"] != "PASS"))
        elif b["status"] != a["status"]:
            message = f"{cid}: {b['status']} -> {a['status']} ({a['summary']})"
            if a["status"] == "SKIP":
                out.append(Change("check", obj, b["status"], a["status"], message + "; no longer decided",
                                  review=True))
            else:
                worse = _BADNESS[a["status"]] > _BADNESS[b["status"]]
                out.append(Change("check", obj, b["status"], a["status"], message, regression=worse))
    return out


def cluster(before_server: str | None, after_server: str | None) -> list[Change]:
    if before_server and after_server and before_server != after_server:
        return [Change("cluster", "Cluster", before_server, after_server,
                       f"Cluster: the baseline was saved from {before_server}, this run reads {after_server}",
                       review=True)]
    return []


def ordered(changes: Iterable[Change]) -> list[Change]:
    """Regressions first, then by kind (KINDS order) and object."""
    return sorted(changes, key=lambda c: (c.rank, KINDS.index(c.kind), c.object, c.message))
