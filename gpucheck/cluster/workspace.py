"""The run's workspace: where probe pods live, labelled, and removed on every exit path.

Without --gpucheck-namespace a namespace `gpucheck-<run id>` is created (PodSecurity
"restricted" enforced, so our probes prove they need no privilege) and deleted at the end;
with one, only the pods carrying this run's label are deleted. Pods and claims a run makes in
other namespaces (the training namespace) are removed by label too.

Everything a run creates also carries an expiry annotation: the moment after which the run
is certainly over (its deadline plus a grace). A later run's janitor (gpucheck.cluster.janitor)
removes objects of runs killed too hard to clean up (SIGKILL, a lost node) once they expire.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure, ClusterError

MANAGED_BY = {"app.kubernetes.io/managed-by": "gpucheck"}
RUN_LABEL = "gpucheck.dev/run"
EXPIRES = "gpucheck.dev/expires"
# A run's objects outlive its deadline by this much before a janitor may take them: the run
# itself gets this long to clean up after its deadline.
CLEANUP_GRACE_S = 60.0
# Without a run deadline (library use), objects expire this long after creation.
_NO_DEADLINE_S = 3600.0


def new_run_id() -> str:
    return secrets.token_hex(4)


def expiry(cluster: Cluster) -> str:
    """The expiry annotation's value for objects created now through `cluster` (RFC 3339, UTC)."""
    left = (cluster.deadline - time.monotonic()) if cluster.deadline is not None else _NO_DEADLINE_S
    when = time.time() + max(left, 0.0) + CLEANUP_GRACE_S
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(body: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    """`body` with the expiry annotation set (kept when the caller set one)."""
    meta = body.setdefault("metadata", {})
    annotations = meta.setdefault("annotations", {})
    annotations.setdefault(EXPIRES, expiry(cluster))
    return body


@dataclass
class Workspace:
    cluster: Cluster
    run_id: str
    given_namespace: str | None = None
    # Where else this run may create objects: pods and claims shaped like a training task in
    # the training namespace; the sweep's pods (made by Airflow) in the sweep's namespace.
    training_namespace: str | None = None
    sweep_namespace: str | None = None
    _ready: bool = field(default=False, repr=False)

    @property
    def namespace(self) -> str:
        return self.given_namespace or f"gpucheck-{self.run_id}"

    @property
    def labels(self) -> dict[str, str]:
        return {**MANAGED_BY, RUN_LABEL: self.run_id}

    @property
    def selector(self) -> str:
        return f"{RUN_LABEL}={self.run_id}"

    def ensure(self) -> str:
        """Create the namespace if this run owns it (idempotent across xdist workers)."""
        if self._ready:
            return self.namespace
        if self.given_namespace is None:
            body = stamp({"metadata": {"name": self.namespace, "labels": {
                **self.labels, "pod-security.kubernetes.io/enforce": "restricted"}}}, self.cluster)
            try:
                self.cluster.call(self.cluster.core.create_namespace, body, verb="create", resource="namespaces")
            except ApiFailure as exc:
                if exc.status != 409:
                    raise
        self._ready = True
        return self.namespace

    @property
    def other_namespaces(self) -> tuple[str, ...]:
        return tuple(n for n in dict.fromkeys((self.training_namespace, self.sweep_namespace))
                     if n and n != self.namespace)

    def remove(self) -> None:
        """Delete what this run created. A 404 is success; the first error is raised after
        every namespace has been tried, so one failure does not leave the rest behind."""
        first: ClusterError | None = None

        def attempt(fn: Any, *args: Any) -> None:
            nonlocal first
            try:
                fn(*args)
            except ClusterError as exc:
                first = first or exc

        for ns in self.other_namespaces:
            attempt(self._delete_pods, ns)
            if ns == self.training_namespace:
                attempt(self._delete_claims, ns)
        if self.given_namespace is None:
            attempt(self._delete_namespace)
        else:
            attempt(self._delete_pods, self.namespace)
        if first is not None:
            raise first

    def _delete_namespace(self) -> None:
        try:
            self.cluster.call(self.cluster.core.delete_namespace, self.namespace, verb="delete",
                              resource="namespaces", grace_period_seconds=0, propagation_policy="Background")
        except ApiFailure as exc:
            if exc.status != 404:
                raise

    def _delete_pods(self, namespace: str) -> None:
        try:
            self.cluster.call(self.cluster.core.delete_collection_namespaced_pod, namespace, verb="deletecollection",
                              resource="pods", label_selector=self.selector, grace_period_seconds=0)
        except ApiFailure as exc:
            if exc.status != 404:
                raise

    def _delete_claims(self, namespace: str) -> None:
        try:
            self.cluster.call(self.cluster.core.delete_collection_namespaced_persistent_volume_claim, namespace,
                              verb="deletecollection", resource="persistentvolumeclaims",
                              label_selector=self.selector)
        except ApiFailure as exc:
            if exc.status != 404:
                raise
