"""What gpucheck asks of the Kubernetes API, declared once: verbs, resource, scope, and who needs it.

`gpucheck deploy cronjob` renders its RBAC from this table (gpucheck.deploy.manifests), the
README's RBAC section describes it, and tests/test_permissions.py scans the package for every
verb and resource passed to the API and fails when this table lacks one. A new API call is
therefore one new entry here, e.g. ``Permission(("list",), "", "events", WORKSPACE,
("GPU-X-001",), why="...")``, and for a run phase rather than a check, a `PHASES` line saying
when a deployment needs it. The janitor (gpucheck.cluster.janitor) needs nothing of its own
in a deployment: it lists pods with the snapshot's right and removes them with the probes'.

Scopes: CLUSTER (a ClusterRole), WORKSPACE (the fixed namespace the CronJob runs in and
probes in, `--namespace`), TRAINING (`training.namespace`, where GPU-SECRET-001 and
GPU-STORAGE-002 start pods shaped like a training task), SWEEP (`sweep.namespace`, else the
workspace) and SWEEP_CLAIM (`sweep.namespace`, else `training.namespace`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from gpucheck.inventory import ANALYZERS
from gpucheck.inventory.snapshot import KINDS

CLUSTER = "cluster"
WORKSPACE = "workspace"
TRAINING = "training"
SWEEP = "sweep"
SWEEP_CLAIM = "sweep-claim"
SCOPES = (CLUSTER, WORKSPACE, TRAINING, SWEEP, SWEEP_CLAIM)

# Phases of a run that need API access beyond a check: name -> (what, when a deployment needs it).
# `when` gets the profile and the set of optional features the deployment uses ("publish").
PHASES: dict[str, tuple[str, Callable[[str, frozenset[str]], bool]]] = {
    "snapshot": ("the one snapshot every run takes (a LIST per kind)", lambda profile, features: True),
    "cleanup": ("removing the run's labelled probe pods from the workspace at the end",
                lambda profile, features: profile != "quick"),
    "own-namespace": ("creating and deleting a per-run namespace when no fixed workspace is given "
                      "(never in a deployment: the CronJob passes --namespace)",
                      lambda profile, features: "own-namespace" in features and profile != "quick"),
    "sweep-cleanup": ("removing the sweep's leftover pods by the run's label at the end (profile full)",
                      lambda profile, features: profile == "full"),
    "publish": ("publishing the JSON summary as a ConfigMap and pruning old ones (--publish-configmap)",
                lambda profile, features: "publish" in features),
}


@dataclass(frozen=True)
class Permission:
    """One RBAC rule's worth of access. `names`, when set, is the dotted setting whose value
    lists the only resourceNames allowed (an empty value: no rule at all, the checks that would
    use it SKIP). `when`, when set, is a dotted setting that must be set for the rule to exist."""

    verbs: tuple[str, ...]
    group: str  # "" is the core API group
    resource: str  # plural, "pods/log" for a subresource
    scope: str
    needed_by: tuple[str, ...]  # check ids and/or PHASES names
    why: str
    names: str | None = None
    when: str | None = None

    @property
    def qualified(self) -> str:
        """The resource as the API server names it in a 403: `daemonsets.apps`, `pods/log`."""
        base, _, sub = self.resource.partition("/")
        name = f"{base}.{self.group}" if self.group else base
        return f"{name}/{sub}" if sub else name


def _readers(kind: str) -> tuple[str, ...]:
    return tuple(sorted(cid for cid, (_, kinds) in ANALYZERS.items() if kind in kinds))


_PROBE_PODS = ("GPU-SMI-001", "GPU-SMI-002", "GPU-SMI-003", "GPU-START-001", "GPU-ISO-001", "GPU-ISO-002",
               "GPU-ISO-003", "GPU-MIG-004")
_PROBE_LOGS = ("GPU-SMI-001", "GPU-SMI-002", "GPU-SMI-003", "GPU-START-001", "GPU-ISO-002", "GPU-ISO-003",
               "GPU-MIG-004")
_TRAINING_PODS = ("GPU-SECRET-001", "GPU-STORAGE-002")
_SWEEP = ("GPU-SWEEP-001", "GPU-SWEEP-002")

PERMISSIONS: tuple[Permission, ...] = (
    # The snapshot: derived from its KINDS, so a new kind is covered the day it is listed.
    *(Permission(("list",), group, resource, CLUSTER, ("snapshot", *_readers(kind)),
                 why=f"the snapshot's one paginated LIST of {resource}")
      for kind, (group, resource) in KINDS.items()),
    Permission(("create",), "authorization.k8s.io", "subjectaccessreviews", CLUSTER, ("GPU-SA-001",),
               why="ask the API server what the training service account may do (no RBAC objects are read)",
               when="training.serviceAccount"),
    Permission(("get",), "", "serviceaccounts", TRAINING, ("GPU-SA-001",),
               why="the training service account exists", names="training.serviceAccount"),
    # Probe pods in the run's workspace.
    Permission(("create", "get", "watch", "delete"), "", "pods", WORKSPACE, _PROBE_PODS,
               why="run probe pods: create, follow with a watch, re-read after a retried create, delete"),
    Permission(("get",), "", "pods/log", WORKSPACE, _PROBE_LOGS, why="read what nvidia-smi printed in a probe pod"),
    Permission(("deletecollection",), "", "pods", WORKSPACE, ("cleanup",),
               why="remove whatever probe pods of this run are left, by its run label"),
    Permission(("create", "list", "delete"), "", "namespaces", CLUSTER, ("own-namespace",),
               why="a per-run workspace namespace gpucheck-<run id> (interactive runs without --namespace); "
                   "the janitor lists and removes expired ones of dead runs"),
    # Report publishing (the CronJob publishes into its own workspace namespace).
    Permission(("create", "list", "delete"), "", "configmaps", WORKSPACE, ("publish",),
               why="write this run's summary ConfigMap and delete the oldest beyond the kept count"),
    # Pods and claims shaped like a training task, in the training namespace.
    Permission(("create", "get", "watch", "delete"), "", "pods", TRAINING, _TRAINING_PODS,
               why="start a pod that mounts the training Secrets / a claim, as a KubernetesPodOperator task would"),
    Permission(("get",), "", "secrets", TRAINING, ("GPU-SECRET-001",),
               why="the training Secrets exist (a metadata-only GET by name: the contents are never read)",
               names="training.secrets"),
    Permission(("create", "list", "watch", "delete"), "", "persistentvolumeclaims", TRAINING, ("GPU-STORAGE-002",),
               why="claim a volume of the training StorageClass, wait for it to bind, delete it"),
    Permission(("deletecollection",), "", "pods", TRAINING, ("cleanup",),
               why="remove whatever training-shaped pods of this run are left, by its run label"),
    Permission(("deletecollection",), "", "persistentvolumeclaims", TRAINING, ("cleanup",),
               why="remove whatever claims of this run are left, by its run label"),
    Permission(("get",), "", "persistentvolumeclaims", SWEEP_CLAIM, ("GPU-STORAGE-002",),
               why="the access modes of the claim a sweep's pods share", names="storage.sweepClaim"),
    # The mapped sweep (profile full): Airflow creates the pods; gpucheck watches and removes them.
    Permission(("list", "watch", "delete"), "", "pods", SWEEP, _SWEEP,
               why="measure the sweep's pods with a watch, drill preemption, remove leftovers"),
    Permission(("deletecollection",), "", "pods", SWEEP, ("sweep-cleanup",),
               why="remove whatever sweep pods of this run are left, by its run label"),
)


def needed(perm: Permission, profile: str, features: Iterable[str] = ()) -> bool:
    """Whether a deployment running `profile` (with optional `features`) makes this call."""
    from gpucheck.catalog import checks

    feats = frozenset(features)
    catalog = checks()
    for who in perm.needed_by:
        if who in PHASES:
            if PHASES[who][1](profile, feats):
                return True
        elif catalog[who].runs_in(profile):
            return True
    return False


def setting(settings: Any, dotted: str) -> Any:
    """`settings.training.secrets` for "training.secrets" (None when a part is missing)."""
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def resource_names(perm: Permission, settings: Any) -> list[str] | None:
    """The resourceNames of the rule: None for unrestricted, [] when the setting is empty."""
    if perm.names is None:
        return None
    value = setting(settings, perm.names)
    if not value:
        return []
    return sorted({value} if isinstance(value, str) else set(value))


def namespace_of(scope: str, settings: Any, workspace: str) -> str | None:
    """The namespace a scope means for a deployment whose workspace is `workspace`."""
    if scope == CLUSTER:
        return None
    if scope == WORKSPACE:
        return workspace
    if scope == TRAINING:
        return settings.training.namespace
    if scope == SWEEP:
        return settings.sweep.namespace or workspace
    if scope == SWEEP_CLAIM:
        return settings.sweep.namespace or settings.training.namespace
    raise ValueError(f"unknown scope {scope!r}")


def find(verb: str, resource: str, group: str | None = None) -> list[Permission]:
    """Table entries granting `verb` on `resource` (`group` None: any group)."""
    return [p for p in PERMISSIONS
            if verb in p.verbs and p.resource == resource and (group is None or p.group == group)]


def validate() -> None:
    """Raise ValueError when an entry names an unknown scope, check or phase."""
    from gpucheck.catalog import checks

    known = checks()
    for p in PERMISSIONS:
        if p.scope not in SCOPES:
            raise ValueError(f"permission {p.verbs} {p.resource}: unknown scope {p.scope!r}")
        bad = [w for w in p.needed_by if w not in PHASES and w not in known]
        if bad:
            raise ValueError(f"permission {p.verbs} {p.resource}: unknown check or phase {', '.join(bad)}")
