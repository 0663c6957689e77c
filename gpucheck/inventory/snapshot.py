"""One read of the cluster: a paginated LIST per kind, whatever the node count, kept as
read-only Views over the JSON (see gpucheck.cluster.view).

A kind that cannot be read (forbidden, API failure) is recorded with its error so the checks
that need it say ERROR with the reason while the others still run. Once the server proves
unreachable, the remaining kinds are not tried: each would only wait out its own retries.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

from gpucheck.cluster.client import Cluster
from gpucheck.cluster.errors import ApiFailure, ClusterError, Unreachable

# kind -> (API group, resource): what a snapshot lists, and so what a read-only role must allow.
KINDS: dict[str, tuple[str, str]] = {
    "nodes": ("", "nodes"),
    "pods": ("", "pods"),
    "daemonsets": ("apps", "daemonsets"),
    "runtimeclasses": ("node.k8s.io", "runtimeclasses"),
    "resourcequotas": ("", "resourcequotas"),
    "priorityclasses": ("scheduling.k8s.io", "priorityclasses"),
    "services": ("", "services"),
    "deployments": ("apps", "deployments"),
    "storageclasses": ("storage.k8s.io", "storageclasses"),
    "nodepools": ("karpenter.sh", "nodepools"),
    "servicemonitors": ("monitoring.coreos.com", "servicemonitors"),
}
# Kinds of add-ons that may not be installed: a 404 (no such resource) is an empty list.
OPTIONAL = frozenset({"nodepools", "servicemonitors"})
READS: tuple[tuple[str, str], ...] = tuple(KINDS.values())


@dataclass
class Snapshot:
    nodes: list[Any] = field(default_factory=list)
    pods: list[Any] = field(default_factory=list)
    daemonsets: list[Any] = field(default_factory=list)
    runtimeclasses: list[Any] = field(default_factory=list)
    resourcequotas: list[Any] = field(default_factory=list)
    priorityclasses: list[Any] = field(default_factory=list)
    services: list[Any] = field(default_factory=list)
    deployments: list[Any] = field(default_factory=list)
    storageclasses: list[Any] = field(default_factory=list)
    nodepools: list[Any] = field(default_factory=list)
    servicemonitors: list[Any] = field(default_factory=list)
    absent: set[str] = field(default_factory=set)  # optional kinds whose API is not installed
    errors: dict[str, ClusterError] = field(default_factory=dict)
    requests: int = 0
    taken_at: float = field(default_factory=time.time)  # wall clock, for the age of timestamps

    def error_for(self, kinds: tuple[str, ...]) -> ClusterError | None:
        return next((self.errors[k] for k in kinds if k in self.errors), None)

    @property
    def unreachable(self) -> bool:
        return any(isinstance(e, Unreachable) for e in self.errors.values())


def take(cluster: Cluster) -> Snapshot:
    snap = Snapshot()
    readers = {
        "nodes": lambda: cluster.list_views(cluster.core.list_node, resource="nodes"),
        "pods": lambda: cluster.list_views(cluster.core.list_pod_for_all_namespaces, resource="pods",
                                         field_selector="status.phase!=Succeeded,status.phase!=Failed"),
        "daemonsets": lambda: cluster.list_views(cluster.apps.list_daemon_set_for_all_namespaces,
                                               resource="daemonsets.apps"),
        "runtimeclasses": lambda: cluster.list_views(cluster.node_api.list_runtime_class,
                                                   resource="runtimeclasses.node.k8s.io"),
        "resourcequotas": lambda: cluster.list_views(cluster.core.list_resource_quota_for_all_namespaces,
                                                   resource="resourcequotas"),
        "priorityclasses": lambda: cluster.list_views(cluster.scheduling.list_priority_class,
                                                    resource="priorityclasses.scheduling.k8s.io"),
        "services": lambda: cluster.list_views(cluster.core.list_service_for_all_namespaces, resource="services"),
        "deployments": lambda: cluster.list_views(cluster.apps.list_deployment_for_all_namespaces,
                                                resource="deployments.apps"),
        "storageclasses": lambda: cluster.list_views(cluster.storage.list_storage_class,
                                                   resource="storageclasses.storage.k8s.io"),
        "nodepools": lambda: cluster.list_views(cluster.custom.list_cluster_custom_object, "karpenter.sh", "v1",
                                              "nodepools", resource="nodepools.karpenter.sh"),
        "servicemonitors": lambda: cluster.list_views(cluster.custom.list_cluster_custom_object,
                                                    "monitoring.coreos.com", "v1", "servicemonitors",
                                                    resource="servicemonitors.monitoring.coreos.com"),
    }
    before = cluster.requests
    for kind in KINDS:
        if snap.unreachable:
            snap.errors[kind] = next(iter(snap.errors.values()))
            continue
        try:
            setattr(snap, kind, readers[kind]())
        except ApiFailure as exc:
            if kind in OPTIONAL and exc.status == 404:
                snap.absent.add(kind)
            else:
                snap.errors[kind] = exc
        except ClusterError as exc:
            snap.errors[kind] = exc
    snap.requests = cluster.requests - before
    # The snapshot lives as long as the run and holds no cycles: keep the collector from
    # rescanning its hundreds of thousands of objects every time the analyzers allocate.
    gc.freeze()
    return snap
