"""The raw-JSON view the snapshot uses reads like the client's models, so analyzers can run
on real corpus objects without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gpucheck.cluster.view import View
from gpucheck.config import resolve
from gpucheck.inventory import device_plugin, gpu_nodes
from gpucheck.inventory.snapshot import Snapshot

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def test_attribute_names_follow_the_client_models():
    node = View({"metadata": {"name": "n", "labels": {"nvidia.com/gpu.present": "true"}},
                 "spec": {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}], "podCIDR": "x"},
                 "status": {"allocatable": {"nvidia.com/gpu": "8"}, "nodeInfo": {"kubeletVersion": "v1"}}})
    assert node.metadata.labels == {"nvidia.com/gpu.present": "true"}
    assert node.spec.taints[0].effect == "NoSchedule" and node.spec.taints[0].value is None
    assert node.status.allocatable["nvidia.com/gpu"] == "8"
    assert node.status.node_info.kubelet_version == "v1"
    assert node.spec.unschedulable is None


def _yaml_objects(pattern: str, kind: str) -> list[View]:
    out = []
    for f in sorted(CORPUS.glob(pattern)):
        for doc in yaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == kind:
                out.append(View(doc))
    return out


def test_corpus_nodes_are_recognised_as_gpu_nodes_in_the_right_pool():
    nodes = _yaml_objects("nodes/*.yaml", "Node")
    assert len(nodes) >= 3
    for n in nodes:
        assert gpu_nodes.why_gpu(n), n.metadata.name
        assert gpu_nodes.pool_of(n) != "unknown", n.metadata.name


@pytest.mark.parametrize("path", sorted(p.name for p in (CORPUS / "daemonsets").glob("*.y*ml")))
def test_corpus_device_plugin_manifests_are_found(path):
    """Every real device-plugin manifest of the corpus is recognised; the GFD and driver
    installer DaemonSets, which are not device plugins, are not."""
    daemonsets = _yaml_objects(f"daemonsets/{path}", "DaemonSet")
    assert daemonsets, f"{path} has no DaemonSet"
    found = device_plugin.find(Snapshot(daemonsets=daemonsets), resolve(env={}))
    is_plugin = "device-plugin" in path and "feature-discovery" not in path
    assert bool(found) == is_plugin, [d.metadata.name for d in daemonsets]
