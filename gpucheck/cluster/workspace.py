"""The run's workspace: where probe pods live, labelled, and removed on every exit path.

Without --gpucheck-namespace a namespace `gpucheck-<run id>` is created (PodSecurity
"restricted" enforced, so our probes prove they need no privilege) and deleted at the end;
with one, only the pods carrying this run's label are deleted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure

MANAGED_BY = {"app.kubernetes.io/managed-by": "gpucheck"}
RUN_LABEL = "gpucheck.dev/run"


def new_run_id() -> str:
    return secrets.token_hex(4)


@dataclass
class Workspace:
    cluster: Cluster
    run_id: str
    given_namespace: str | None = None
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
            body = {"metadata": {"name": self.namespace, "labels": {
                **self.labels, "pod-security.kubernetes.io/enforce": "restricted"}}}
            try:
                self.cluster.call(self.cluster.core.create_namespace, body, verb="create", resource="namespaces")
            except ApiFailure as exc:
                if exc.status != 409:
                    raise
        self._ready = True
        return self.namespace

    def remove(self) -> None:
        """Delete what this run created. A 404 is success; errors are left to the caller."""
        if self.given_namespace is None:
            try:
                self.cluster.call(self.cluster.core.delete_namespace, self.namespace, verb="delete",
                                  resource="namespaces", grace_period_seconds=0, propagation_policy="Background")
            except ApiFailure as exc:
                if exc.status != 404:
                    raise
            return
        self.cluster.call(self.cluster.core.delete_collection_namespaced_pod, self.namespace,
                          verb="deletecollection", resource="pods", label_selector=self.selector,
                          grace_period_seconds=0)
