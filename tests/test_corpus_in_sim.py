"""The real Node objects, GFD label sets, `kubectl describe node` captures and device-plugin
DaemonSets of ../shared/corpus, loaded into the simulated cluster through the real API server
(admission, defaulting, validation), then read back by a snapshot and classified: GPU node or
not, pool, MIG strategy, device plugin found or not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from gpucheck.cluster.client import connect
from gpucheck.cluster.wait import wait_deleted
from gpucheck.config import resolve
from gpucheck.inventory import ANALYZERS, device_plugin, evaluate, gpu_nodes
from gpucheck.inventory.snapshot import take
from gpucheck.model import Status
from gpucheck.sim import scenarios

pytestmark = pytest.mark.sim

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
LOADED = "corpus.gpucheck.dev/source"

# source (file, and #n for the n-th node in a file) -> (pool, MIG strategy); None: not a GPU node.
EXPECTED = {
    "aks-docs_aks-gpunp_t4_describe-node-condensed.txt": ("unlabelled gpu x1", "none"),
    "aks-docs_standard-nd96asr-v4_mig-single-vs-mixed_allocatable.txt#0": ("unlabelled gpu x56", "none"),
    "aks-docs_standard-nd96asr-v4_mig-single-vs-mixed_allocatable.txt#1": ("unlabelled mig-1g.5gb x56", "mixed"),
    "cloud-native-docs_a100-sxm4-40gb_450.80.02_mig-mixed_gfd-labels.json": ("A100-SXM4-40GB", "mixed"),
    "cloud-native-docs_a100-sxm4-40gb_450.80.02_mig-none_gfd-labels.json": ("A100-SXM4-40GB", "none"),
    "cloud-native-docs_a100-sxm4-40gb_mig-mixed_describe-node-capacity.txt": (
        "unlabelled mig-1g.5gb x1, mig-2g.10gb x1, mig-3g.20gb x1", "mixed"),
    "cloud-native-docs_h100-80gb-hbm3_mig-mixed_node-labels.json": ("NVIDIA-H100-80GB-HBM3", "mixed"),
    "cloud-native-docs_h100-80gb-hbm3_mig-single-disabled_node-labels.json": ("NVIDIA-H100-80GB-HBM3", "single"),
    "cloud-native-docs_openshift_dgx-h100_mig-mixed-all-balanced_describe-node-capacity.txt": (
        "unlabelled mig-1g.10gb x16, mig-2g.20gb x8, mig-3g.40gb x8", "mixed"),
    "cloud-native-docs_tesla-t4_time-slicing_describe-node-labels-capacity.txt": ("Tesla-T4-SHARED", "none"),
    "fake-gpu-operator_2x-tesla-t4_gce_525_fraction-1-workload_node.yaml": ("Tesla-T4", "mixed"),
    "fake-gpu-operator_a100-sxm4-40gb_gce_520.56.06_mig-7g.40gb_node.yaml": ("NVIDIA-A100-SXM4-40GB", "mixed"),
    "fake-gpu-operator_a100-sxm4-40gb_gce_520.56.06_mig-mixed_3-instances_node.yaml": (
        "NVIDIA-A100-SXM4-40GB", "mixed"),
    "kwok_virtual-dgxa100-40g_fake-node.yaml": ("unlabelled gpu x8", "none"),
}


def _describe_nodes(text: str) -> list[dict]:
    """Labels, Capacity and Allocatable out of a (possibly condensed) `kubectl describe node`;
    `# ...` headers separate several nodes in one capture."""
    nodes: list[dict] = []
    current: dict | None = None
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if current is None or (line.startswith("# ") and current != {"labels": {}, "capacity": {}, "allocatable": {}}):
            current = {"labels": {}, "capacity": {}, "allocatable": {}}
            nodes.append(current)
        head = re.match(r"^(Labels|Capacity|Allocatable):\s*(.*)$", line)
        if head:
            section = head.group(1).lower()
            line = head.group(2)
        elif re.match(r"^[A-Z][A-Za-z ]*:", line) or line.startswith("Resource "):
            section = None
            continue
        if not line or line.startswith(("#", "...", "[...]", "$")) or section is None:
            continue
        if section == "labels" and "=" in line:
            k, v = line.split("=", 1)
            current["labels"][k] = v
        elif section in ("capacity", "allocatable") and ":" in line:
            k, v = line.rsplit(":", 1)
            current[section][k.strip()] = v.strip()
    return [n for n in nodes if n["labels"] or n["capacity"] or n["allocatable"]]


def corpus_nodes() -> dict[str, dict]:
    """source -> a Node manifest (spec and metadata) with the status to write after creation."""
    out: dict[str, dict] = {}
    for f in sorted((CORPUS / "nodes").iterdir()):
        if f.suffix == ".yaml":
            docs = [d for d in yaml.safe_load_all(f.read_text()) if d and d.get("kind") == "Node"]
            parts = [(d["metadata"].get("labels") or {}, d.get("spec") or {}, d.get("status") or {}) for d in docs]
        elif f.suffix == ".json":
            parts = [(json.loads(f.read_text()), {}, {})]
        else:
            # A capture may show only one of the two; a node always has both.
            parts = [(n["labels"], {}, {"capacity": n["capacity"] or n["allocatable"],
                                         "allocatable": n["allocatable"] or n["capacity"]})
                     for n in _describe_nodes(f.read_text())]
        for i, (labels, spec, status) in enumerate(parts):
            source = f.name if len(parts) == 1 else f"{f.name}#{i}"
            spec = {k: v for k, v in spec.items() if k in ("taints", "unschedulable")}
            # Documentation captures print some values as humans read them ("NVIDIA DGX"); the
            # API refuses those, and GFD writes them sanitised, as done here.
            labels = {k: re.sub(r"[^A-Za-z0-9_.-]", "-", str(v)).strip("-_.")[:63] for k, v in labels.items()}
            out[source] = {"labels": labels, "spec": spec,
                           "status": {k: status[k] for k in ("capacity", "allocatable", "conditions") if status.get(k)}}
    return out


def corpus_daemonsets() -> dict[str, dict]:
    out = {}
    for f in sorted((CORPUS / "daemonsets").glob("*.y*ml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d and d.get("kind") == "DaemonSet":
                out[f.name] = d
    return out


@pytest.fixture(scope="module")
def loaded(sim, api):
    """Create every corpus Node (unmanaged by KWOK, so no kubelet touches them) and every
    corpus DaemonSet (each in its own namespace, where a pods quota of 0 keeps the DaemonSet
    controller from starting anything); remove them all afterwards."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    names: dict[str, str] = {}
    namespaces: dict[str, str] = {}
    try:
        for i, (source, n) in enumerate(corpus_nodes().items()):
            name = f"corpus-node-{i}"
            core.create_node({"metadata": {"name": name, "labels": {**n["labels"], LOADED: str(i)}},
                              "spec": n["spec"]})
            if n["status"]:
                core.patch_node_status(name, {"status": n["status"]})
            names[source] = name
        for i, (source, ds) in enumerate(corpus_daemonsets().items()):
            ns = f"corpus-ds-{i}"
            core.create_namespace({"metadata": {"name": ns, "labels": {LOADED: str(i)}}})
            core.create_namespaced_resource_quota(ns, {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}})
            ds = {**ds, "metadata": {**ds["metadata"], "namespace": ns}}
            apps.create_namespaced_daemon_set(ns, ds)
            namespaces[source] = ns
        yield connect(str(sim.kubeconfig)), names, namespaces
    finally:
        for name in names.values():
            core.delete_node(name)
            # No kubelet ever ran the DaemonSet pods bound to these nodes; pod GC would take
            # them only after its orphan quarantine (about a minute), and until then the
            # device plugin's counts include them. Remove them as a node drain would.
            for pod in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}").items:
                try:
                    core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0)
                except client.ApiException as exc:
                    if exc.status != 404:
                        raise
        for ns in namespaces.values():
            core.delete_namespace(ns)
        for name in names.values():
            wait_deleted(core.list_node, name=name, timeout=60, what=f"node {name} gone")
        for ns in namespaces.values():
            wait_deleted(core.list_namespace, name=ns, timeout=120, what=f"namespace {ns} gone")
        # The corpus nodes drew device-plugin pods; later tests read the plugin's counts.
        scenarios.wait_device_plugin_settled(api)


def test_every_corpus_node_has_an_expectation():
    assert set(corpus_nodes()) == set(EXPECTED)


def test_corpus_nodes_are_classified_after_an_api_round_trip(loaded):
    cluster, names, _ = loaded
    found = {g.name: g for g in gpu_nodes.find(take(cluster).nodes)}
    got = {}
    for source, name in names.items():
        g = found.get(name)
        got[source] = (g.pool, gpu_nodes.mig_strategy(g.node)) if g else None
    assert got == EXPECTED


def test_corpus_daemonsets_are_found_as_installed(loaded):
    """Device plugins of every install method (static manifests across versions, GPU Operator,
    with a service account) are found; GFD and the GKE driver installer are not plugins."""
    cluster, _, namespaces = loaded
    snap = take(cluster)
    found = {d.metadata.namespace for d in device_plugin.find(snap, resolve(env={}))}
    got = {source: ns in found for source, ns in namespaces.items()}
    assert got == {source: "device-plugin" in source and "feature-discovery" not in source for source in namespaces}


def test_every_check_grades_the_corpus_fleet_without_an_internal_error(loaded):
    """With real, messy nodes in the cluster, every analyzer still decides; the fake-gpu-operator
    T4 node that advertises nvidia.com/gpu under the mixed strategy is caught."""
    cluster, names, _ = loaded
    snap = take(cluster)
    settings = resolve(env={})
    results = {cid: evaluate(cid, snap, settings) for cid in ANALYZERS}
    assert not [cid for cid, r in results.items() if r.status == Status.ERROR]
    t4 = names["fake-gpu-operator_2x-tesla-t4_gce_525_fraction-1-workload_node.yaml"]
    assert any(t4 in f.object for f in results["GPU-MIG-001"].findings if f.status == Status.FAIL)
    shared = names["cloud-native-docs_tesla-t4_time-slicing_describe-node-labels-capacity.txt"]
    assert any(shared in f.object for f in results["GPU-ALLOC-004"].findings if f.status == Status.WARN)
