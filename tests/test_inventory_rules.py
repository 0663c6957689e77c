"""The API-only rules on hand-made and corpus objects, without a cluster: what each check
decides, and the reference tables it decides with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gpucheck.cluster.view import View
from gpucheck.config import resolve
from gpucheck.inventory import evaluate, tables
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import Status

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
NOW = 1_800_000_000.0


def node(name="n0", labels=None, capacity=None, allocatable=None, annotations=None, conditions=None) -> View:
    cap = capacity if capacity is not None else {"nvidia.com/gpu": "8"}
    return View({"kind": "Node", "metadata": {"name": name, "labels": {"nvidia.com/gpu.present": "true", **(labels or {})},
                                              "annotations": annotations or {}},
                 "spec": {}, "status": {"capacity": cap, "allocatable": allocatable if allocatable is not None else cap,
                                        "conditions": conditions or [{"type": "Ready", "status": "True"}]}})


def run(check_id, *, config: str | None = None, tmp_path=None, **snap):
    settings = resolve(env={})
    if config is not None:
        cfg = tmp_path / "gpucheck.yaml"
        cfg.write_text(config)
        settings = resolve(cli={"config_file": str(cfg)}, env={})
    return evaluate(check_id, Snapshot(taken_at=NOW, **snap), settings)


def failing(result, status=None) -> list[str]:
    return sorted(f.object for f in result.findings if f.status == (status or result.status))


# --- GPU-ALLOC-003: GPU count vs instance type -------------------------------------------

def test_a_node_short_of_its_instance_types_gpus_fails():
    r = run("GPU-ALLOC-003", nodes=[
        node("ok", {"node.kubernetes.io/instance-type": "g5.12xlarge"}, {"nvidia.com/gpu": "4"}),
        node("short", {"node.kubernetes.io/instance-type": "g5.12xlarge"}, {"nvidia.com/gpu": "3"})])
    assert r.status == Status.FAIL and failing(r) == ["Node/short"]
    assert "3 GPUs, 4 expected (instance type g5.12xlarge)" in r.findings[1].message


def test_the_config_file_overrides_and_extends_the_instance_table(tmp_path):
    config = "expectedGpus:\n  byInstanceType: {g5.12xlarge: 3}\n  byProduct: {NVIDIA-B200: 8}\n"
    r = run("GPU-ALLOC-003", config=config, tmp_path=tmp_path, nodes=[
        node("a", {"node.kubernetes.io/instance-type": "g5.12xlarge"}, {"nvidia.com/gpu": "3"}),
        node("b", {"nvidia.com/gpu.product": "NVIDIA-B200"}, {"nvidia.com/gpu": "4"})])
    assert failing(r) == ["Node/b"]


def test_gpu_count_counts_physical_gpus_under_sharing_and_mig():
    shared = node("ts", {"node.kubernetes.io/instance-type": "g4dn.12xlarge", "nvidia.com/gpu.replicas": "4"},
                  {"nvidia.com/gpu": "16"})
    mig = node("mig", {"node.kubernetes.io/instance-type": "a2-highgpu-8g", "nvidia.com/gpu.count": "8",
                       "nvidia.com/mig.strategy": "mixed"}, {"nvidia.com/mig-1g.5gb": "56"})
    assert run("GPU-ALLOC-003", nodes=[shared, mig]).status == Status.PASS


def test_unknown_instance_types_are_skipped_not_passed():
    r = run("GPU-ALLOC-003", nodes=[node("bare", {"node.kubernetes.io/instance-type": "dgx-h100-onprem"})])
    assert r.status == Status.SKIP and "expectedGpus" in r.summary


def test_the_instance_table_knows_the_common_gpu_instances():
    t = tables.instance_gpus()
    assert (t["p5.48xlarge"], t["a2-ultragpu-4g"], t["g6.xlarge"], t["Standard_ND96asr_v4"]) == (8, 4, 1, 8)


# --- GPU-ALLOC-004: shared GPUs in training pools ------------------------------------------

def _corpus_time_sliced_node() -> View:
    """The corpus' time-slicing capture: 4 T4s shared 4 ways, product renamed -SHARED."""
    return node("t4", {"nvidia.com/gpu.count": "4", "nvidia.com/gpu.product": "Tesla-T4-SHARED",
                       "nvidia.com/gpu.replicas": "4"}, {"nvidia.com/gpu": "16"})


def test_time_sliced_gpus_in_a_training_pool_warn():
    r = run("GPU-ALLOC-004", nodes=[_corpus_time_sliced_node(), node("whole")])
    assert r.status == Status.WARN and failing(r) == ["Node/t4"]
    assert "4 replicas per GPU" in r.summary or "4 replicas per GPU" in r.findings[0].message


def test_shared_gpus_pass_when_allowed_or_outside_the_training_pools(tmp_path):
    nodes = [_corpus_time_sliced_node()]
    assert run("GPU-ALLOC-004", config="training: {allowSharedGpus: true}\n", tmp_path=tmp_path,
               nodes=nodes).status == Status.PASS
    assert run("GPU-ALLOC-004", config="training: {pools: [NVIDIA-H100-80GB-HBM3]}\n", tmp_path=tmp_path,
               nodes=nodes).status == Status.SKIP


def test_mps_sharing_is_recognised():
    r = run("GPU-ALLOC-004", nodes=[node("mps", {"nvidia.com/gpu.sharing-strategy": "mps",
                                                 "nvidia.com/gpu.replicas": "2"})])
    assert r.status == Status.WARN and "mps" in r.findings[0].message


# --- GPU-DRV-003 / GPU-DRV-004 ----------------------------------------------------------------

def test_gfd_labels_older_than_the_limit_warn(tmp_path):
    nodes = [node("fresh", {"nvidia.com/gfd.timestamp": str(int(NOW - 120))}),
             node("stale", {"nvidia.com/gfd.timestamp": str(int(NOW - 3 * 86400))}),
             node("junk", {"nvidia.com/gfd.timestamp": "yesterday"})]
    r = run("GPU-DRV-003", nodes=nodes)
    assert r.status == Status.WARN and failing(r) == ["Node/junk", "Node/stale"]
    assert "3.0 days" in next(f.message for f in r.findings if f.object == "Node/stale")
    assert failing(run("GPU-DRV-003", config="gfdMaxAgeHours: 100\n", tmp_path=tmp_path, nodes=nodes)) == ["Node/junk"]


def test_driver_upgrade_failed_or_stuck_fails_and_in_progress_warns():
    label = "nvidia.com/gpu-driver-upgrade-state"
    start = "nvidia.com/gpu-driver-upgrade-wait-for-pod-completion-start-time"
    r = run("GPU-DRV-004", nodes=[
        node("done", {label: "upgrade-done"}),
        node("failed", {label: "upgrade-failed"}),
        node("stuck", {label: "wait-for-jobs-required"}, annotations={start: str(int(NOW - 8 * 3600))}),
        node("moving", {label: "drain-required"}, annotations={start: str(int(NOW - 600))})])
    assert failing(r, Status.FAIL) == ["Node/failed", "Node/stuck"]
    assert failing(r, Status.WARN) == ["Node/moving"]
    assert "stuck in wait-for-jobs-required for 8.0 h" in r.summary


# --- GPU-MIG-003: MIG slice counts vs the GPU model ------------------------------------------------

def test_mig_layouts_beyond_the_models_limits_fail():
    base = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB", "nvidia.com/gpu.count": "1",
            "nvidia.com/mig.strategy": "mixed"}
    r = run("GPU-MIG-003", nodes=[
        node("ok", base, {"nvidia.com/mig-1g.5gb": "2", "nvidia.com/mig-2g.10gb": "1", "nvidia.com/mig-3g.20gb": "1"}),
        node("eight", base, {"nvidia.com/mig-1g.5gb": "8"}),
        node("foreign", base, {"nvidia.com/mig-1g.10gb": "1", "nvidia.com/mig-3g.40gb": "1"}),
        node("overfull", base, {"nvidia.com/mig-3g.20gb": "2", "nvidia.com/mig-2g.10gb": "1"})])
    assert failing(r) == ["Node/eight", "Node/foreign", "Node/overfull"]
    msgs = {f.object: f.message for f in r.findings}
    assert "8 x 1g.5gb exceeds 7 per GPU" in msgs["Node/eight"]
    assert "3g.40gb is not a A100 40GB profile" in msgs["Node/foreign"]
    assert "8 compute slices in use, 7 exist" in msgs["Node/overfull"]


def test_single_strategy_slices_are_counted_against_the_model():
    labels = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "nvidia.com/gpu.count": "8",
              "nvidia.com/mig.strategy": "single"}
    assert run("GPU-MIG-003", nodes=[node("s", labels, {"nvidia.com/gpu": "56"})]).status == Status.PASS
    assert run("GPU-MIG-003", nodes=[node("s", labels, {"nvidia.com/gpu": "57"})]).status == Status.FAIL


def _all_profile_layouts() -> list[tuple[str, str, int, list[str]]]:
    """(config file, profile, count per GPU, device filter) of every single-profile `all-*`
    layout in the corpus' mig-parted configs."""
    out = []
    for f in sorted((CORPUS / "mig-configs").glob("*.yaml")):
        doc = yaml.safe_load(f.read_text())
        config = yaml.safe_load(doc["data"]["config.yaml"]) if doc.get("kind") == "ConfigMap" else doc
        for name, entries in config["mig-configs"].items():
            if not name.startswith("all-"):
                continue
            for e in entries:
                devices = e.get("mig-devices") or {}
                if len(devices) == 1:
                    (profile, count), = devices.items()
                    out.append((f.name, profile, int(count), list(e.get("device-filter") or [])))
    return out


# PCI device ids of the mig-parted configs -> the model their filter names.
DEVICE_MODELS = {"0x20B010DE": "A100 40GB", "0x20B110DE": "A100 40GB", "0x20F110DE": "A100 40GB",
                 "0x20F610DE": "A100 40GB", "0x20B210DE": "A100 80GB", "0x20B510DE": "A100 80GB",
                 "0x20F310DE": "A100 80GB", "0x20F510DE": "A100 80GB", "0x233010DE": "H100 80GB",
                 "0x233110DE": "H100 80GB", "0x232210DE": "H100 80GB", "0x232410DE": "H100 80GB",
                 "0x20B710DE": "A30 24GB", "0x233D10DE": "H100 NVL 94GB", "0x232110DE": "H100 NVL 94GB",
                 "0x233510DE": "H200 141GB", "0x233A10DE": "H200 141GB"}


def test_mig_limits_agree_with_the_corpus_mig_parted_layouts():
    """Every `all-<profile>` layout the GPU Operator ships fills one GPU with as many instances
    as our table allows on the models it applies to."""
    models = {m.model: m for m in tables.mig_models()}
    checked = 0
    for source, profile, count, filters in _all_profile_layouts():
        # A filtered entry applies to the models its device ids name (ids we do not know, such
        # as Blackwell's, are not in our table); an unfiltered one was written for some model
        # with the profile (older configs predate profiles that later appeared on other GPUs).
        if filters:
            for t in {DEVICE_MODELS[d] for d in filters if d in DEVICE_MODELS}:
                assert models[t].profiles.get(profile) == count, (source, t, profile, count)
                checked += 1
        elif any(profile in m.profiles for m in models.values()):
            assert count in {m.profiles[profile] for m in models.values() if profile in m.profiles}, (source, profile)
            checked += 1
    assert checked >= 20


# --- GPU-HEALTH-001 ------------------------------------------------------------------------------

def test_health_signals_of_other_tools_become_findings(tmp_path):
    nodes = [
        node("eks", conditions=[{"type": "Ready", "status": "True"},
                                {"type": "AcceleratedHardwareReady", "status": "False", "reason": "NvidiaXID79Error",
                                 "message": "GPU fell off the bus"}]),
        node("aks", conditions=[{"type": "Ready", "status": "True"}, {"type": "GPUMissing", "status": "False"}]),
        node("ibm", {"autopilot.ibm.com/gpuhealth": "TESTING"}),
        node("nvs", conditions=[{"type": "Ready", "status": "True"}, {"type": "SysLogsXIDError", "status": "True"}]),
        node("custom", conditions=[{"type": "Ready", "status": "True"}, {"type": "MyGpuProbe", "status": "Failed"}])]
    r = run("GPU-HEALTH-001", nodes=nodes)
    assert failing(r, Status.FAIL) == ["Node/eks", "Node/nvs"] and failing(r, Status.WARN) == ["Node/ibm"]
    assert "AcceleratedHardwareReady=False (NvidiaXID79Error: GPU fell off the bus)" in r.summary
    r = run("GPU-HEALTH-001", config="health: {conditions: {MyGpuProbe: Failed}}\n", tmp_path=tmp_path, nodes=nodes)
    assert "Node/custom" in failing(r, Status.FAIL)


# --- GPU-NS-001 / GPU-NS-002 -----------------------------------------------------------------------

def quota(ns, name, hard, used=None) -> View:
    return View({"kind": "ResourceQuota", "metadata": {"name": name, "namespace": ns},
                 "spec": {"hard": hard}, "status": {"hard": hard, "used": used or {}}})


def test_an_exhausted_gpu_quota_in_the_training_namespace_fails(tmp_path):
    quotas = [quota("ml", "gpus", {"requests.nvidia.com/gpu": "4"}, {"requests.nvidia.com/gpu": "4"}),
              quota("other", "gpus", {"requests.nvidia.com/gpu": "0"})]
    r = run("GPU-NS-001", config="training: {namespace: ml}\n", tmp_path=tmp_path, resourcequotas=quotas)
    assert r.status == Status.FAIL and failing(r) == ["ResourceQuota/ml/gpus"]
    assert "4 of 4 used, headroom 0 (need 1)" in r.summary
    r = run("GPU-NS-001", config="training: {namespace: ml, minGpuHeadroom: 0}\n", tmp_path=tmp_path,
            resourcequotas=quotas)
    assert r.status == Status.PASS


def test_no_gpu_quota_passes_and_says_so():
    r = run("GPU-NS-001", resourcequotas=[quota("default", "cpu", {"requests.cpu": "10"})])
    assert r.status == Status.PASS and "no GPU quota in namespace default" in r.summary


def test_priority_class_named_in_the_config_must_exist(tmp_path):
    pcs = [View({"metadata": {"name": "system-node-critical"}, "value": 2000001000}),
           View({"metadata": {"name": "batch"}, "value": 100})]
    r = run("GPU-NS-002", config="training: {priorityClass: gpu-training}\n", tmp_path=tmp_path, priorityclasses=pcs)
    assert r.status == Status.FAIL and "gpu-training" in r.summary
    assert run("GPU-NS-002", priorityclasses=pcs).status == Status.PASS
    assert run("GPU-NS-002", priorityclasses=pcs[:1]).status == Status.WARN


@pytest.mark.parametrize("bad", ["training: {namespace: Not_A_Namespace}\n", "gfdMaxAgeHours: -1\n",
                                 "training: {minGpuHeadroom: many}\n", "health: {conditions: [XIDErrors]}\n"])
def test_bad_settings_for_the_new_checks_name_the_key(bad, tmp_path):
    from gpucheck.config import SettingsError

    cfg = tmp_path / "c.yaml"
    cfg.write_text(bad)
    with pytest.raises(SettingsError, match=r"config file .*c\.yaml: (training|gfdMaxAgeHours|health)"):
        resolve(cli={"config_file": str(cfg)}, env={})


# --- GPU-DP-002: the plugin's own counts -------------------------------------------------

def test_a_daemonset_whose_counts_disagree_fails_and_says_why_even_with_every_node_ready():
    ds = View({"metadata": {"name": "nvidia-device-plugin-daemonset", "namespace": "kube-system", "uid": "u1"},
               "spec": {"template": {"metadata": {}, "spec": {"containers": [
                   {"name": "p", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.1"}]}}},
               "status": {"desiredNumberScheduled": 2, "numberReady": 1, "numberAvailable": 1}})
    pod = View({"metadata": {"name": "p0", "namespace": "kube-system",
                             "ownerReferences": [{"kind": "DaemonSet", "uid": "u1", "name": ds.metadata.name}]},
                "spec": {"nodeName": "n0"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    r = run("GPU-DP-002", nodes=[node("n0")], daemonsets=[ds], pods=[pod])
    assert r.status == Status.FAIL
    assert r.summary == "DaemonSet/kube-system/nvidia-device-plugin-daemonset: desired 2, ready 1, available 1"
