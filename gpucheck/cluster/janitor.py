"""Remove what dead gpucheck runs left in a cluster: namespaces, pods and claims carrying a
run label, once they have expired.

A run cleans up after itself on every exit path it can see (success, failure, timeout, Ctrl-C,
SIGTERM). What it cannot see (SIGKILL, an OOM kill, a lost machine) stays behind with its
labels and an expiry annotation (gpucheck.cluster.workspace). The next run's janitor, or
`gpucheck clean`, finds such objects by label and removes those past their expiry; objects
without the annotation (a KubernetesPodOperator's sweep pods) expire `fallback_age` after
creation. Objects of a live run are never touched: they have not expired, and the current
run's own id is always spared.

Least privilege is expected: a listing the role may not do is skipped and reported, never an
error that stops a run.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure, ClusterError, Forbidden, Unreachable
from gpucheck.cluster.workspace import EXPIRES, MANAGED_BY, RUN_LABEL

SELECTOR = ",".join([*(f"{k}={v}" for k, v in MANAGED_BY.items()), RUN_LABEL])
FALLBACK_AGE_S = 6 * 3600.0


@dataclass
class Sweep:
    """What one janitor pass found and did."""

    removed: list[str] = field(default_factory=list)  # "Namespace/x", "Pod/ns/name" (would be, on a dry run)
    kept: int = 0  # labelled objects of live runs (not expired) or of the current run
    skipped: list[str] = field(default_factory=list)  # what could not be looked at or removed, and why

    def line(self) -> str:
        parts = [f"removed {len(self.removed)} object(s) left by dead runs" + (
            ": " + ", ".join(self.removed[:8]) + (" ..." if len(self.removed) > 8 else "") if self.removed else "")]
        if self.skipped:
            parts.append("could not check " + "; ".join(self.skipped))
        return "; ".join(parts)


def expired(obj: Any, now: float, fallback_age: float) -> bool:
    meta = obj.metadata
    raw = (meta.annotations or {}).get(EXPIRES)
    when = _parse_time(raw) if raw else None
    if when is None:
        created = _parse_time(meta.creation_timestamp)
        if created is None:
            return False  # cannot tell: an unknown age is not old
        when = created + fallback_age
    return when <= now


def _parse_time(raw: Any) -> float | None:
    if not raw:
        return None
    try:
        return dt.datetime.strptime(str(raw), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        return None


def run(cluster: Cluster, *, current_run: str | None, namespaces: Iterable[str] = (),
        claim_namespaces: Iterable[str] | None = None, run_namespaces: bool = True, everything: bool = False,
        dry_run: bool = False, fallback_age: float = FALLBACK_AGE_S, now: Callable[[], float] = time.time) -> Sweep:
    """One pass. `namespaces` are where pods (and, unless `claim_namespaces` says otherwise,
    claims) are looked for when the role may not list them cluster-wide; `run_namespaces`
    looks for per-run namespaces too (pointless, and
    usually forbidden, for a deployment that uses one fixed workspace namespace); `everything`
    ignores expiry (`gpucheck clean --all`, when no run is active). Raises only Unreachable:
    nothing can be done then."""
    out = Sweep()
    t = now()
    namespaces = [n for n in dict.fromkeys(namespaces) if n]
    claim_places = namespaces if claim_namespaces is None else [n for n in dict.fromkeys(claim_namespaces) if n]

    def due(obj: Any) -> bool:
        if (obj.metadata.labels or {}).get(RUN_LABEL) == current_run:
            return False
        return everything or expired(obj, t, fallback_age)

    doomed_namespaces: set[str] = set()
    listed = _list(cluster, out, "namespaces", lambda: cluster.list_views(
        cluster.core.list_namespace, resource="namespaces", label_selector=SELECTOR)) if run_namespaces else None
    for ns in listed or []:
        if not due(ns):
            out.kept += 1
            continue
        doomed_namespaces.add(ns.metadata.name)
        if ns.status.phase == "Terminating":
            continue
        _delete(cluster, out, f"Namespace/{ns.metadata.name}", dry_run, lambda n=ns.metadata.name: cluster.call(
            cluster.core.delete_namespace, n, verb="delete", resource="namespaces", grace_period_seconds=0,
            propagation_policy="Background"))

    for kind, resource, places, cluster_wide, per_namespace, delete in (
            ("Pod", "pods", namespaces, cluster.core.list_pod_for_all_namespaces, cluster.core.list_namespaced_pod,
             lambda name, ns: cluster.call(cluster.core.delete_namespaced_pod, name, ns, verb="delete",
                                           resource="pods", grace_period_seconds=0)),
            ("PersistentVolumeClaim", "persistentvolumeclaims", claim_places,
             cluster.core.list_persistent_volume_claim_for_all_namespaces,
             cluster.core.list_namespaced_persistent_volume_claim,
             lambda name, ns: cluster.call(cluster.core.delete_namespaced_persistent_volume_claim, name, ns,
                                           verb="delete", resource="persistentvolumeclaims"))):
        items = _list(cluster, out, f"{resource} in every namespace", lambda: cluster.list_views(
            cluster_wide, resource=resource, label_selector=SELECTOR), quiet_forbidden=bool(places))
        if items is None:
            items = []
            for ns in places:
                items += _list(cluster, out, f"{resource} in {ns}", lambda ns=ns: cluster.list_views(
                    per_namespace, ns, resource=resource, label_selector=SELECTOR)) or []
        for obj in items:
            ns = obj.metadata.namespace
            if ns in doomed_namespaces or obj.metadata.deletion_timestamp:
                continue  # goes with its namespace, or already on its way
            if not due(obj):
                out.kept += 1
                continue
            _delete(cluster, out, f"{kind}/{ns}/{obj.metadata.name}", dry_run,
                    lambda o=obj, d=delete: d(o.metadata.name, o.metadata.namespace))
    return out


def _list(cluster: Cluster, out: Sweep, what: str, fn: Callable[[], list[Any]],
          quiet_forbidden: bool = False) -> list[Any] | None:
    try:
        return fn()
    except Unreachable:
        raise
    except Forbidden as exc:
        if not quiet_forbidden:
            out.skipped.append(f"{what} (forbidden: may not {exc.verb} {exc.resource})")
    except ClusterError as exc:
        out.skipped.append(f"{what} ({exc})")
    return None


def _delete(cluster: Cluster, out: Sweep, ref: str, dry_run: bool, fn: Callable[[], Any]) -> None:
    if dry_run:
        out.removed.append(ref)
        return
    try:
        fn()
    except ApiFailure as exc:
        if exc.status != 404:
            out.skipped.append(f"{ref} ({exc})")
            return
    except Unreachable:
        raise
    except ClusterError as exc:
        out.skipped.append(f"{ref} ({exc})")
        return
    out.removed.append(ref)
