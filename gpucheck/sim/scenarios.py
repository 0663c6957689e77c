"""Fault scenarios: declared in data/scenarios.yaml, applied to and reverted on a running sim.

Reverting restores what the profile and the bootstrap manifests say, so a test can break one
thing on the shared session cluster and leave it as it found it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from gpucheck.sim import profiles

_DS_NS, _DS_NAME = "kube-system", "nvidia-device-plugin-daemonset"


class ScenarioError(ValueError):
    """Unknown scenario, or one that does not fit the running profile."""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    caught_by: str
    actions: tuple[dict[str, Any], ...]
    also_affects: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def catalog() -> dict[str, Scenario]:
    raw = yaml.safe_load((resources.files("gpucheck.sim") / "data" / "scenarios.yaml").read_text())
    return {
        s["name"]: Scenario(s["name"], s["description"], s["caughtBy"], tuple(s["actions"]),
                            tuple(s.get("alsoAffects", ())))
        for s in raw
    }


def validate(names: list[str]) -> None:
    unknown = [n for n in names if n not in catalog()]
    if unknown:
        raise ScenarioError(
            f"unknown scenario {', '.join(map(repr, unknown))}; valid scenarios: {', '.join(sorted(catalog()))}"
        )


def _profile_of(api: Any) -> profiles.Profile:
    """The profile a running sim was started with, rebuilt from its nodes' pool labels."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    pools = {n.metadata.labels.get(profiles.POOL_LABEL) for n in core.list_node().items}
    for name in profiles.builtin_names():
        prof = profiles.load(name)
        if {p.name for p in prof.pools} == pools:
            return prof
    raise ScenarioError("cannot tell which profile this cluster runs; scenarios need a built-in profile")


def target_node(api: Any, pool: str) -> str:
    from kubernetes import client

    core = client.CoreV1Api(api)
    names = sorted(n.metadata.name for n in core.list_node(
        label_selector=f"{profiles.POOL_LABEL}={pool}").items)
    if not names:
        raise ScenarioError(f"this cluster has no node in pool {pool!r}")
    return names[0]


def apply(api: Any, name: str) -> list[str]:
    """Apply scenario `name`; returns the objects it touched, as 'Kind/name' strings."""
    from kubernetes import client, utils

    validate([name])
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    touched: list[str] = []
    for action in catalog()[name].actions:
        (kind, spec), = action.items()
        if kind == "patchNode":
            node = target_node(api, spec["pool"])
            meta: dict[str, Any] = {}
            if "labels" in spec:
                meta["labels"] = spec["labels"]
            if "annotations" in spec:
                meta["annotations"] = spec["annotations"]
            body: dict[str, Any] = {"metadata": meta} if meta else {}
            if "taints" in spec:
                body["spec"] = {"taints": spec["taints"] or None}
            if body:
                core.patch_node(node, body)
            status = {k: spec[k] for k in ("capacity", "allocatable", "conditions") if k in spec}
            if status:
                core.patch_node_status(node, {"status": status})
            if profiles.SIM_ANN + "not-ready" in (spec.get("annotations") or {}):
                _wait_node(core, node, ready=False)
            touched.append(f"Node/{node}")
        elif kind == "deleteObject":
            _delete(api, spec)
            touched.append(f"{spec['kind']}/{spec['name']}")
        elif kind == "patchDaemonSet":
            apps.patch_namespaced_daemon_set(spec["name"], spec["namespace"], spec["patch"])
            touched.append(f"DaemonSet/{spec['name']}")
        elif kind == "createObject":
            try:
                utils.create_from_dict(api, copy.deepcopy(spec))
            except utils.FailToCreateError as exc:
                if not all(getattr(e, "status", None) == 409 for e in exc.api_exceptions):
                    raise
            touched.append(f"{spec['kind']}/{spec['metadata']['name']}")
        elif kind == "unreadyPods":
            node = target_node(api, spec["pool"])
            _unready_pods(core, spec["namespace"], spec["labelSelector"], node)
            touched.append(f"Pod on {node}")
        else:
            raise ScenarioError(f"scenario {name}: unknown action {kind}")
    return touched


def revert(api: Any, name: str) -> None:
    """Undo scenario `name`, restoring profile and bootstrap state."""
    from kubernetes import client

    validate([name])
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    prof = _profile_of(api)
    baseline = {n["metadata"]["name"]: n for n in profiles.node_objects(prof)}
    for action in reversed(catalog()[name].actions):
        (kind, spec), = action.items()
        if kind == "patchNode":
            # Restore exactly the keys the scenario set, from the profile's baseline node.
            node = target_node(api, spec["pool"])
            want = baseline[node]
            meta: dict[str, Any] = {}
            for field in ("labels", "annotations"):
                if field in spec:
                    meta[field] = {k: want["metadata"][field].get(k) for k in spec[field]}
            body: dict[str, Any] = {"metadata": meta} if meta else {}
            if "taints" in spec:
                body["spec"] = {"taints": want["spec"].get("taints") or None}
            if body:
                core.patch_node(node, body)
            status: dict[str, Any] = {f: {k: want["status"][f].get(k) for k in spec[f]}
                                      for f in ("capacity", "allocatable") if f in spec}
            if "conditions" in spec:
                status["conditions"] = [{"type": c["type"], "$patch": "delete"} for c in spec["conditions"]]
            if status:
                core.patch_node_status(node, {"status": status})
            _wait_node(core, node, ready=True)
        elif kind == "deleteObject" and (spec["kind"], spec["name"]) != ("DaemonSet", _DS_NAME):
            _recreate(api, spec)
        elif kind in ("deleteObject", "patchDaemonSet"):
            ds = _bootstrap_daemonset()
            try:
                # A patch, not read-then-replace: the DaemonSet controller keeps writing status.
                apps.patch_namespaced_daemon_set(_DS_NAME, _DS_NS, {"spec": {"template": ds["spec"]["template"]}})
            except client.ApiException as exc:
                if exc.status != 404:
                    raise
                apps.create_namespaced_daemon_set(_DS_NS, ds)
        elif kind == "createObject":
            _delete(api, {"apiVersion": spec["apiVersion"], "kind": spec["kind"],
                          "namespace": spec["metadata"].get("namespace"), "name": spec["metadata"]["name"]})
        elif kind == "unreadyPods":
            node = target_node(api, spec["pool"])
            for p in core.list_namespaced_pod(spec["namespace"], label_selector=spec["labelSelector"],
                                              field_selector=f"spec.nodeName={node}").items:
                core.delete_namespaced_pod(p.metadata.name, spec["namespace"], grace_period_seconds=0)


def wait_device_plugin_settled(api: Any, timeout: float = 60) -> None:
    """Until the device plugin DaemonSet counts exactly the profile's GPU nodes as desired,
    ready, available and up to date: the controller catches up with node and template changes
    asynchronously, and the checks read those counts."""
    from kubernetes import client

    from gpucheck.cluster.wait import wait_for

    want = _profile_of(api).gpu_node_count

    def settled(d: Any) -> bool:
        st = d.status
        return bool(st) and st.desired_number_scheduled == st.number_ready == want and \
            (st.number_available or 0) == want and st.updated_number_scheduled == want

    wait_for(client.AppsV1Api(api).list_namespaced_daemon_set, settled, _DS_NS, name=_DS_NAME,
             timeout=timeout, what=f"the device plugin to be ready on all {want} GPU nodes")


def _wait_node(core: Any, node: str, ready: bool, timeout: float = 60) -> None:
    """Until the node reports the wanted Ready state and, when Ready, the node lifecycle
    controller has lifted its not-ready/unreachable taints."""
    from gpucheck.cluster.wait import wait_for

    def settled(n: Any) -> bool:
        is_ready = any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
        lifecycle = [t for t in n.spec.taints or [] if t.key in (
            "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")]
        return is_ready == ready and (not ready or not lifecycle)

    wait_for(core.list_node, settled, name=node, timeout=timeout,
             what=f"node {node} to become {'Ready' if ready else 'NotReady'}")


def _bootstrap_objects() -> list[dict[str, Any]]:
    text = (resources.files("gpucheck.sim") / "data" / "bootstrap.yaml").read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def _bootstrap_daemonset() -> dict[str, Any]:
    return next(d for d in _bootstrap_objects() if d["kind"] == "DaemonSet")


def _recreate(api: Any, ref: dict[str, Any]) -> None:
    """Create again the bootstrap object a scenario deleted (already there is fine)."""
    from kubernetes import utils

    from gpucheck.sim.cluster import CUSTOM_GROUPS, create_custom

    obj = next(d for d in _bootstrap_objects() if d["kind"] == ref["kind"] and d["metadata"]["name"] == ref["name"])
    if obj["apiVersion"].split("/")[0] in CUSTOM_GROUPS:
        try:
            create_custom(api, copy.deepcopy(obj))
        except Exception as exc:  # already back
            if getattr(exc, "status", None) != 409:
                raise
        return
    try:
        utils.create_from_dict(api, copy.deepcopy(obj))
    except utils.FailToCreateError as exc:
        if not all(getattr(e, "status", None) == 409 for e in exc.api_exceptions):
            raise


def _delete(api: Any, ref: dict[str, Any]) -> None:
    from kubernetes import client

    kinds = {
        "DaemonSet": lambda: client.AppsV1Api(api).delete_namespaced_daemon_set(
            ref["name"], ref["namespace"], propagation_policy="Background"),
        "Deployment": lambda: client.AppsV1Api(api).delete_namespaced_deployment(
            ref["name"], ref["namespace"], propagation_policy="Background"),
        "Namespace": lambda: client.CoreV1Api(api).delete_namespace(ref["name"]),
        "ResourceQuota": lambda: client.CoreV1Api(api).delete_namespaced_resource_quota(ref["name"], ref["namespace"]),
        "PriorityClass": lambda: client.SchedulingV1Api(api).delete_priority_class(ref["name"]),
        "Secret": lambda: client.CoreV1Api(api).delete_namespaced_secret(ref["name"], ref["namespace"]),
        "StorageClass": lambda: client.StorageV1Api(api).delete_storage_class(ref["name"]),
        "PersistentVolume": lambda: client.CoreV1Api(api).delete_persistent_volume(ref["name"]),
        "ClusterRoleBinding": lambda: client.RbacAuthorizationV1Api(api).delete_cluster_role_binding(ref["name"]),
        "NodePool": lambda: client.CustomObjectsApi(api).delete_cluster_custom_object(
            "karpenter.sh", "v1", "nodepools", ref["name"]),
    }
    try:
        kinds[ref["kind"]]()
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def _unready_pods(core: Any, namespace: str, selector: str, node: str) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc).isoformat()
    for p in core.list_namespaced_pod(namespace, label_selector=selector,
                                      field_selector=f"spec.nodeName={node}").items:
        core.patch_namespaced_pod(p.metadata.name, namespace,
                                  {"metadata": {"annotations": {profiles.SIM_ANN + "unready": "true"}}})
        statuses = [{"name": c.name, "image": c.image, "ready": False, "restartCount": 3, "started": True,
                     "state": {"waiting": {"reason": "CrashLoopBackOff",
                                           "message": "back-off 40s restarting failed container"}}}
                    for c in p.spec.containers]
        core.patch_namespaced_pod_status(p.metadata.name, namespace, {"status": {
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                            "lastTransitionTime": now},
                           {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
                            "lastTransitionTime": now}],
            "containerStatuses": statuses}})
