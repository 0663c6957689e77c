"""The pre-upgrade gate without a cluster: fingerprints of hand-made and corpus nodes, what
counts as a regression, the baseline file, and how reports show the changes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from gpucheck import report
from gpucheck.baseline import diff, fingerprint, gate, store
from gpucheck.cluster.view import View
from gpucheck.config import SettingsError, resolve
from gpucheck.inventory.snapshot import Snapshot
from gpucheck.model import CheckResult, Finding, Status
from gpucheck.run import RunState

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
H100 = "NVIDIA-H100-80GB-HBM3"
TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def gpu_node(name: str, product: str = H100, gpus: int = 8, allocatable: int | None = None, driver: str = "565.57.01",
             cuda: str = "12.7", taints: list[dict] | None = None, labels: dict | None = None,
             resources: dict | None = None) -> View:
    res = resources if resources is not None else {"nvidia.com/gpu": str(gpus)}
    alloc = dict(res) if allocatable is None else {"nvidia.com/gpu": str(allocatable)}
    return View({"kind": "Node", "metadata": {"name": name, "labels": {
        "nvidia.com/gpu.product": product, "nvidia.com/cuda.driver-version.full": driver,
        "nvidia.com/cuda.runtime-version.full": cuda, "nvidia.com/mig.strategy": "none", **(labels or {})}},
        "spec": {"taints": [TAINT] if taints is None else taints},
        "status": {"capacity": {"cpu": "8", **res}, "allocatable": {"cpu": "8", **alloc},
                   "conditions": [{"type": "Ready", "status": "True"}]}})


def cpu_node(name: str) -> View:
    return View({"kind": "Node", "metadata": {"name": name, "labels": {}}, "spec": {},
                 "status": {"capacity": {"cpu": "8"}, "allocatable": {"cpu": "8"}}})


def plugin(image: str = "nvcr.io/nvidia/k8s-device-plugin:v0.17.1", name: str = "nvidia-device-plugin-daemonset"
           ) -> View:
    return View({"kind": "DaemonSet", "metadata": {"name": name, "namespace": "kube-system", "labels": {}},
                 "spec": {"template": {"metadata": {"labels": {}},
                                       "spec": {"containers": [{"name": "nvidia-device-plugin-ctr", "image": image}]}}},
                 "status": {}})


def mig_node(name: str = "gpu-a100-0", config: str = "all-balanced", slices: dict | None = None) -> View:
    slices = slices if slices is not None else {"nvidia.com/mig-1g.10gb": "8", "nvidia.com/mig-2g.20gb": "4"}
    return gpu_node(name, "NVIDIA-A100-SXM4-80GB", driver="555.42.02", cuda="12.5", resources=slices,
                    labels={"nvidia.com/mig.strategy": "mixed", "nvidia.com/mig.config": config})


def fleet(**changes) -> list[View]:
    nodes = {"gpu-h100-0": gpu_node("gpu-h100-0"), "gpu-h100-1": gpu_node("gpu-h100-1"),
             "gpu-l4-0": gpu_node("gpu-l4-0", "NVIDIA-L4", 1, driver="550.90.07", cuda="12.4"),
             "cpu-0": cpu_node("cpu-0")}
    nodes.update(changes)
    return [n for n in nodes.values() if n is not None]


def fp(nodes: list[View] | None = None, daemonsets: list[View] | None = None) -> dict:
    settings = resolve(env={})
    snap = Snapshot(nodes=fleet() if nodes is None else nodes, daemonsets=[plugin()] if daemonsets is None else daemonsets)
    return fingerprint.take(snap, settings)


def messages(changes: list[diff.Change], **flags) -> list[str]:
    return [c.message for c in changes if all(getattr(c, k) == v for k, v in flags.items())]


# --- fingerprint ---------------------------------------------------------------------------

def test_fingerprint_groups_gpu_nodes_into_pools_with_counts_versions_and_taints():
    f = fp()
    assert sorted(f["pools"]) == [H100, "NVIDIA-L4"] and "cpu-0" not in f["nodes"]
    pool = f["pools"][H100]
    assert pool["nodes"] == ["gpu-h100-0", "gpu-h100-1"]
    assert pool["allocatable"] == pool["capacity"] == {"nvidia.com/gpu": 16}
    assert (pool["drivers"], pool["cuda"], pool["taints"]) == (["565.57.01"], ["12.7"],
                                                               ["nvidia.com/gpu=present:NoSchedule"])
    node = f["nodes"]["gpu-h100-0"]
    assert node["capacity"] == node["allocatable"] == {"nvidia.com/gpu": 8}  # cpu is not a GPU resource
    assert node["mig"] == {"strategy": "none", "config": None, "slices": {}}
    assert f["device_plugins"] == {"DaemonSet/kube-system/nvidia-device-plugin-daemonset": {
        "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.1", "version": "v0.17.1"}}
    json.dumps(f)  # plain JSON


def test_fingerprint_leaves_out_taints_the_control_plane_sets_by_itself():
    taints = [TAINT, {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
              {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
              {"key": "ToBeDeletedByClusterAutoscaler", "value": "1700000000", "effect": "NoSchedule"},
              {"key": "team", "value": "ml", "effect": "PreferNoSchedule"}]
    f = fp(fleet(**{"gpu-h100-0": gpu_node("gpu-h100-0", taints=taints)}))
    assert f["nodes"]["gpu-h100-0"]["taints"] == ["nvidia.com/gpu=present:NoSchedule"]


def test_fingerprint_of_a_corpus_mig_node():
    raw = yaml.safe_load((CORPUS / "nodes" / "fake-gpu-operator_a100-sxm4-40gb_gce_520.56.06_mig-mixed_3-instances_node"
                                              ".yaml").read_text())
    node = fp([View(raw)], daemonsets=[])["nodes"]["qa-mig-worker-gpu-a100"]
    assert node["pool"] == "NVIDIA-A100-SXM4-40GB"
    assert (node["driver"], node["cuda"]) == ("520.56.06", "11.8")  # from the split GFD labels
    assert node["mig"]["strategy"] == "mixed" and node["mig"]["slices"] == {"1g.5gb": 2, "2g.10gb": 1}
    assert node["allocatable"]["nvidia.com/mig-1g.5gb"] == 2


def test_fingerprint_of_a_corpus_kwok_node_keeps_its_taint():
    raw = yaml.safe_load((CORPUS / "nodes" / "kwok_virtual-dgxa100-40g_fake-node.yaml").read_text())
    node = fp([View(raw)], daemonsets=[])["nodes"]["virtual-gpu-node"]
    assert node["capacity"] == {"nvidia.com/gpu": 8} and node["taints"] == ["kwok.x-k8s.io/node=fake:NoSchedule"]
    assert node["driver"] is None


# --- diff: the fingerprint -----------------------------------------------------------------

def test_the_same_cluster_has_no_change():
    assert diff.fingerprints(fp(), fp()) == []


def test_gpus_withheld_on_a_node_are_a_regression_named_with_before_and_after():
    changes = diff.fingerprints(fp(), fp(fleet(**{"gpu-h100-0": gpu_node("gpu-h100-0", allocatable=7)})))
    assert messages(changes) == ["Node/gpu-h100-0: nvidia.com/gpu allocatable 8 -> 7"]
    c = changes[0]
    assert c.regression and c.kind == "gpus" and c.before == {"capacity": 8, "allocatable": 8}
    assert c.after == {"capacity": 8, "allocatable": 7}


def test_gpus_lost_cannot_be_allowed_and_gpus_added_are_no_regression():
    lost = diff.fingerprints(fp(), fp(fleet(**{"gpu-h100-0": gpu_node("gpu-h100-0", gpus=7)})), allow=diff.ALLOW_KINDS)
    assert messages(lost, regression=True) == ["Node/gpu-h100-0: nvidia.com/gpu capacity 8 -> 7, allocatable 8 -> 7"]
    more = diff.fingerprints(fp(fleet(**{"gpu-h100-0": gpu_node("gpu-h100-0", gpus=7)})), fp())
    assert [(c.regression, c.review) for c in more] == [(False, False)]


def test_a_gpu_node_gone_is_a_regression_and_its_pool_lost_gpus_even_when_nodes_may_change():
    after = fp(fleet(**{"gpu-h100-1": None}))
    changes = diff.fingerprints(fp(), after)
    assert messages(changes, regression=True) == [
        "Node/gpu-h100-1: GPU node gone (pool NVIDIA-H100-80GB-HBM3, nvidia.com/gpu 8)",
        f"Pool/{H100}: nvidia.com/gpu allocatable 16 on 2 node(s) -> 8 on 1 node(s)"]
    allowed = diff.fingerprints(fp(), after, allow=["nodes"])
    assert messages(allowed, regression=True) == [f"Pool/{H100}: nvidia.com/gpu allocatable 16 on 2 node(s) -> "
                                                  "8 on 1 node(s)"]
    assert messages(allowed, allowed=True) == ["Node/gpu-h100-1: GPU node gone (pool NVIDIA-H100-80GB-HBM3, "
                                               "nvidia.com/gpu 8) (allowed: --allow nodes)"]


def test_a_pool_that_is_gone_says_so():
    changes = diff.fingerprints(fp(), fp(fleet(**{"gpu-l4-0": None})), allow=["nodes"])
    assert messages(changes, regression=True) == ["Pool/NVIDIA-L4: nvidia.com/gpu allocatable 1 on 1 node(s) -> 0 on "
                                                  "0 node(s) (the pool is gone)"]


def test_an_autoscaled_pool_with_new_node_names_is_compared_by_totals():
    replaced = {"gpu-h100-0": None, "gpu-h100-1": None,
                "ip-10-0-1-7": gpu_node("ip-10-0-1-7"), "ip-10-0-1-9": gpu_node("ip-10-0-1-9")}
    changes = diff.fingerprints(fp(), fp(fleet(**replaced)), allow=["nodes"])
    assert not [c for c in changes if c.regression], messages(changes)
    assert sorted(c.object for c in changes if c.kind == "nodes") == [
        "Node/gpu-h100-0", "Node/gpu-h100-1", "Node/ip-10-0-1-7", "Node/ip-10-0-1-9"]
    short = {**replaced, "ip-10-0-1-9": gpu_node("ip-10-0-1-9", allocatable=7)}
    changes = diff.fingerprints(fp(), fp(fleet(**short)), allow=["nodes"])
    assert messages(changes, regression=True) == [f"Pool/{H100}: nvidia.com/gpu allocatable 16 on 2 node(s) -> "
                                                  "15 on 2 node(s)"]


def test_a_new_node_is_held_to_its_pools_baseline():
    odd = gpu_node("gpu-h100-2", driver="550.54.15", taints=[])
    changes = diff.fingerprints(fp(), fp(fleet(**{"gpu-h100-2": odd})))
    assert messages(changes, regression=True) == [
        "Node/gpu-h100-2: driver 550.54.15 on a new node; pool NVIDIA-H100-80GB-HBM3 ran 565.57.01 in the baseline",
        "Node/gpu-h100-2: new node without taint nvidia.com/gpu=present:NoSchedule, which every node of pool "
        "NVIDIA-H100-80GB-HBM3 carried in the baseline"]
    assert messages(changes, regression=False) == [
        "Node/gpu-h100-2: new GPU node in pool NVIDIA-H100-80GB-HBM3 (nvidia.com/gpu 8)",
        f"Pool/{H100}: nvidia.com/gpu allocatable 16 on 2 node(s) -> 24 on 3 node(s)"]


def test_driver_and_cuda_changes_are_regressions_unless_allowed_one_by_one():
    after = fp(fleet(**{"gpu-h100-0": gpu_node("gpu-h100-0", driver="550.54.15", cuda="12.4")}))
    assert messages(diff.fingerprints(fp(), after), regression=True) == [
        "Node/gpu-h100-0: driver 565.57.01 -> 550.54.15", "Node/gpu-h100-0: CUDA 12.7 -> 12.4"]
    changes = diff.fingerprints(fp(), after, allow=["driver"])
    assert messages(changes, regression=True) == ["Node/gpu-h100-0: CUDA 12.7 -> 12.4"]
    assert messages(changes, allowed=True) == ["Node/gpu-h100-0: driver 565.57.01 -> 550.54.15 (allowed: --allow driver)"]


def test_a_driver_label_appearing_is_news_and_one_vanishing_is_a_regression():
    unlabelled = gpu_node("gpu-h100-0")
    del unlabelled.to_dict()["metadata"]["labels"]["nvidia.com/cuda.driver-version.full"]
    before, after = fp(fleet(**{"gpu-h100-0": unlabelled})), fp()
    assert [(c.message, c.regression) for c in diff.fingerprints(before, after)] == [
        ("Node/gpu-h100-0: driver unknown -> 565.57.01", False)]
    assert [(c.message, c.regression) for c in diff.fingerprints(after, before)] == [
        ("Node/gpu-h100-0: driver 565.57.01 -> unknown", True)]


def test_a_taint_gone_is_a_regression_nothing_allows_and_a_new_taint_asks_for_review():
    untainted = fp(fleet(**{"gpu-l4-0": gpu_node("gpu-l4-0", "NVIDIA-L4", 1, driver="550.90.07", cuda="12.4",
                                                 taints=[])}))
    gone = diff.fingerprints(fp(), untainted, allow=diff.ALLOW_KINDS)
    assert messages(gone, regression=True) == ["Node/gpu-l4-0: taint nvidia.com/gpu=present:NoSchedule gone"]
    added = diff.fingerprints(untainted, fp())
    assert [(c.message, c.regression, c.review) for c in added] == [
        ("Node/gpu-l4-0: new taint nvidia.com/gpu=present:NoSchedule (pods must tolerate it)", False, True)]


def test_a_mig_relayout_is_one_change_allowed_by_mig():
    before = fp(fleet(**{"gpu-a100-0": mig_node()}))
    after = fp(fleet(**{"gpu-a100-0": mig_node(config="all-1g.10gb", slices={"nvidia.com/mig-1g.10gb": "28"})}))
    changes = diff.fingerprints(before, after)
    assert messages(changes) == ["Node/gpu-a100-0: MIG mixed all-balanced (1g.10gb x8, 2g.20gb x4) -> "
                                 "mixed all-1g.10gb (1g.10gb x28)"]
    assert changes[0].regression and changes[0].kind == "mig"
    assert [c.allowed for c in diff.fingerprints(before, after, allow=["mig"])] == [True]


def test_mig_slices_withheld_without_a_relayout_are_gpus_lost():
    before = fp(fleet(**{"gpu-a100-0": mig_node()}))
    short = mig_node()
    short.to_dict()["status"]["allocatable"]["nvidia.com/mig-2g.20gb"] = "3"
    changes = diff.fingerprints(before, fp(fleet(**{"gpu-a100-0": short})), allow=["mig"])
    assert messages(changes, regression=True) == ["Node/gpu-a100-0: nvidia.com/mig-2g.20gb allocatable 4 -> 3"]


def test_device_plugin_version_change_gone_and_new():
    newer = fp(daemonsets=[plugin("nvcr.io/nvidia/k8s-device-plugin:v0.17.2")])
    assert messages(diff.fingerprints(fp(), newer), regression=True) == [
        "DaemonSet/kube-system/nvidia-device-plugin-daemonset: device plugin v0.17.1 -> v0.17.2"]
    assert [c.allowed for c in diff.fingerprints(fp(), newer, allow=["device-plugin"])] == [True]
    moved = fp(daemonsets=[plugin(name="gpu-operator-device-plugin")])
    assert [(c.object, c.regression) for c in diff.fingerprints(fp(), moved)] == [
        ("DaemonSet/kube-system/gpu-operator-device-plugin", False),
        ("DaemonSet/kube-system/nvidia-device-plugin-daemonset", True)]


# --- diff: checks --------------------------------------------------------------------------

def _checks(**statuses: str) -> dict:
    return {cid.replace("_", "-"): {"status": s, "summary": f"{cid} {s.lower()}"} for cid, s in statuses.items()}


def test_check_status_changes_worse_better_and_no_longer_decided():
    before = _checks(GPU_ALLOC_001="PASS", GPU_RT_001="WARN", GPU_DRV_003="SKIP", GPU_MIG_001="PASS",
                     GPU_TAINT_001="FAIL", GPU_DP_002="FAIL")
    after = _checks(GPU_ALLOC_001="FAIL", GPU_RT_001="FAIL", GPU_DRV_003="WARN", GPU_MIG_001="SKIP",
                    GPU_TAINT_001="PASS", GPU_DP_002="ERROR")
    changes = {c.object: c for c in diff.checks(before, after)}
    assert changes["Check/GPU-ALLOC-001"].message == "GPU-ALLOC-001: PASS -> FAIL (GPU_ALLOC_001 fail)"
    assert [cid for cid, c in sorted(changes.items()) if c.regression] == [
        "Check/GPU-ALLOC-001", "Check/GPU-DP-002", "Check/GPU-DRV-003", "Check/GPU-RT-001"]
    assert changes["Check/GPU-MIG-001"].review and not changes["Check/GPU-MIG-001"].regression
    assert not changes["Check/GPU-TAINT-001"].regression and not changes["Check/GPU-TAINT-001"].review


def test_a_check_of_the_baseline_not_run_now_is_a_regression_with_the_reason():
    before = _checks(GPU_SMI_001="PASS", GPU_DRV_002="SKIP", GPU_DP_001="PASS")
    after = _checks(GPU_DP_001="PASS", GPU_RT_001="PASS")
    changes = diff.checks(before, after, lambda cid: " (this run's profile is quick)")
    assert [(c.message, c.regression) for c in changes] == [
        ("GPU-RT-001: PASS, not in the baseline (GPU_RT_001 pass)", False),
        ("GPU-SMI-001: PASS in the baseline, not run now (this run's profile is quick)", True)]


def test_changes_are_ordered_regressions_first():
    changes = diff.ordered([
        diff.Change("nodes", "Node/b", None, 1, "added"), diff.Change("check", "Check/X", "PASS", "FAIL", "x", True),
        diff.Change("taint", "Node/a", None, "t", "t added", review=True),
        diff.Change("gpus", "Node/c", 8, 7, "lost", regression=True)])
    assert [c.message for c in changes] == ["lost", "x", "t added", "added"]


# --- the gate check ------------------------------------------------------------------------

def _baseline(nodes: list[View] | None = None, checks: dict | None = None, server: str = "https://k8s:6443"
              ) -> store.Baseline:
    results = [CheckResult.of(cid, [Finding(Status(c["status"]), "x")], c["summary"])
               for cid, c in (checks or _checks(GPU_ALLOC_001="PASS")).items()]
    return store.build(fp(nodes), results, server=server, profile="quick", verdict="READY")


def _gate(baseline: store.Baseline, nodes: list[View] | None = None, results: list[CheckResult] | None = None,
          allow: str | None = None, server: str = "https://k8s:6443") -> CheckResult:
    settings = resolve(cli={"baseline": "b.json", "allow": allow, "profile": "quick"}, env={})
    snap = Snapshot(nodes=fleet() if nodes is None else nodes, daemonsets=[plugin()])
    results = results if results is not None else [CheckResult.of("GPU-ALLOC-001", [Finding(Status.PASS, "x")], "")]
    return gate.evaluate(baseline, snap, settings, results, server)


def test_the_gate_passes_against_its_own_baseline():
    r = _gate(_baseline())
    assert r.id == "GPU-GATE-001" and r.status == Status.PASS
    assert r.summary.startswith("no change since the baseline of ")


def test_the_gate_fails_on_a_regression_with_the_change_as_evidence():
    r = _gate(_baseline(), nodes=fleet(**{"gpu-h100-0": gpu_node("gpu-h100-0", allocatable=7)}),
              results=[CheckResult.of("GPU-ALLOC-001", [Finding(Status.FAIL, "x")], "1 node short")])
    assert r.status == Status.FAIL
    assert r.summary.startswith("2 regression(s) since the baseline of ")
    assert "Node/gpu-h100-0: nvidia.com/gpu allocatable 8 -> 7" in r.summary
    f = r.findings[0]
    assert (f.status, f.object) == (Status.FAIL, "Node/gpu-h100-0")
    assert f.evidence == {"kind": "gpus", "before": {"capacity": 8, "allocatable": 8},
                          "after": {"capacity": 8, "allocatable": 7}, "regression": True, "allowed": False}
    assert r.findings[1].message == "GPU-ALLOC-001: PASS -> FAIL (1 node short)"


def test_the_gate_warns_for_a_change_to_review_and_passes_an_allowed_one():
    moved = _gate(_baseline(), server="https://other:6443")
    assert moved.status == Status.WARN and "this run reads https://other:6443" in moved.findings[0].message
    upgraded = _gate(_baseline(), nodes=fleet(**{"gpu-h100-0": gpu_node("gpu-h100-0", driver="570.86.15")}),
                     allow="driver")
    assert upgraded.status == Status.PASS and upgraded.findings[0].evidence["allowed"] is True
    assert "1 allowed by --allow" in upgraded.summary


def test_the_gate_is_expected_only_with_a_baseline_and_survives_select():
    assert "GPU-GATE-001" not in RunState(resolve(env={})).expected()
    with_baseline = RunState(resolve(cli={"baseline": "b.json", "select": "GPU-DP-001"}, env={}))
    assert with_baseline.expected() == ["GPU-DP-001", "GPU-GATE-001"]
    skipped = RunState(resolve(cli={"baseline": "b.json", "skip": "GPU-GATE-001"}, env={}))
    assert "GPU-GATE-001" not in skipped.expected()


# --- settings ------------------------------------------------------------------------------

def test_allow_takes_repeated_and_comma_separated_kinds(tmp_path):
    assert resolve(cli={"allow": ["driver", "cuda,mig"]}, env={}).allow == ("driver", "cuda", "mig")
    assert resolve(env={"GPUCHECK_ALLOW": "nodes"}).allow == ("nodes",)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("baseline: before.json\nallow: [device-plugin]\n")
    s = resolve(cli={"config_file": str(cfg)}, env={})
    assert (s.baseline, s.allow) == ("before.json", ("device-plugin",))


@pytest.mark.parametrize("cli,needle", [
    ({"allow": ["driver", "firmware"]}, "--gpucheck-allow: 'firmware' is not a kind of change to allow; use driver, "
                                        "cuda, device-plugin, mig, nodes"),
    ({"save_baseline": "/nonexistent-dir/b.json"}, "--gpucheck-save-baseline: directory /nonexistent-dir does not "
                                                   "exist"),
    ({"save_baseline": "/tmp"}, "--gpucheck-save-baseline: /tmp is a directory"),
])
def test_bad_gate_settings_name_the_option(cli, needle):
    with pytest.raises(SettingsError) as err:
        resolve(cli=cli, env={})
    assert needle in str(err.value)


# --- the baseline file ---------------------------------------------------------------------

def test_a_saved_baseline_loads_back_and_validates(tmp_path):
    b = _baseline(checks=_checks(GPU_ALLOC_001="PASS", GPU_DRV_002="SKIP"))
    path = tmp_path / "b.json"
    store.save(b, path)
    data = json.loads(path.read_text())
    assert list(data)[0] == "format_version"
    jsonschema.validate(data, store.schema())
    assert store.load(path) == b
    assert (path.stat().st_mode & 0o777) != 0o600 and not list(tmp_path.glob(".*.tmp"))


def _valid(tmp_path: Path) -> dict:
    path = tmp_path / "valid.json"
    store.save(_baseline(), path)
    return json.loads(path.read_text())


@pytest.mark.parametrize("content,needle", [
    (None, "does not exist"),
    (b"", "is not JSON"),
    (b"{not json", "is not JSON: Expecting property name"),
    (b'{"format_version": 1, "verdict": "\xff\xfe"}', "is not UTF-8 text"),
    (b"[1, 2]", "is not a gpucheck baseline: (top level): [1, 2] is not of type 'object'"),
    (b'{"verdict": "READY"}', "is not a gpucheck baseline: (top level): 'format_version' is a required property"),
    ("wrong-type", "is not a gpucheck baseline: fingerprint/nodes/gpu-h100-0/allocatable/nvidia.com/gpu: 'eight' "
                   "is not of type 'integer'"),
    ("newer", "has format version 2, newer than this gpucheck reads (1); upgrade gpucheck"),
    ("orphan", "fingerprint/nodes/gpu-h100-0: its pool 'NVIDIA-H100-80GB-HBM3' does not list it"),
])
def test_an_unusable_baseline_file_is_named(tmp_path, content, needle):
    path = tmp_path / "baseline.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        data = _valid(tmp_path)
        if content == "wrong-type":
            data["fingerprint"]["nodes"]["gpu-h100-0"]["allocatable"]["nvidia.com/gpu"] = "eight"
        elif content == "newer":
            data["format_version"] = 2
        elif content == "orphan":
            data["fingerprint"]["pools"][H100]["nodes"].remove("gpu-h100-0")
        path.write_text(json.dumps(data))
    with pytest.raises(store.BaselineError) as err:
        store.load(path, "--gpucheck-baseline")
    assert str(err.value).startswith(f"--gpucheck-baseline: baseline file {path} ")
    assert needle in str(err.value)


def test_a_directory_is_not_a_baseline(tmp_path):
    with pytest.raises(store.BaselineError, match="is not a file"):
        store.load(tmp_path)


# --- reports -------------------------------------------------------------------------------

def _gated_report(**settings) -> report.Report:
    g = _gate(_baseline(), nodes=fleet(**{"gpu-h100-0": gpu_node("gpu-h100-0", allocatable=7, driver="570.86.15"),
                                          "gpu-h100-9": gpu_node("gpu-h100-9")}),
              results=[CheckResult.of("GPU-ALLOC-001", [Finding(Status.FAIL, "x")], "1 node short")], allow="driver")
    return report.build([g, CheckResult.of("GPU-ALLOC-001", [Finding(Status.FAIL, "x", "Node/gpu-h100-0")],
                                           "1 node short")], "major", cluster={"server": "https://k8s:6443"},
                        settings={"profile": "quick", "baseline": "before.json", "allow": ["driver"],
                                  "baseline_saved": "2026-05-01T10:00:00Z", **settings})


def test_reports_show_the_changes_since_baseline_regressions_first():
    rep = _gated_report()
    assert [c["label"] for c in rep.changes()] == ["regression", "regression", "allowed", "change", "change"]
    data = json.loads(report.render(rep, "json"))
    jsonschema.validate(data, report.schema())
    assert report.Report.from_json(data).changes() == rep.changes()

    md = report.render(rep, "md")
    section = md.split("### Changes since baseline", 1)[1].split("| | check |", 1)[0]
    assert "Baseline before.json, saved 2026-05-01T10:00:00Z: 2 regression(s), 1 allowed, 2 other change(s); " \
           "allowed kinds: driver." in section
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    assert rows[0] == "| ❌ regression | gpus | Node/gpu-h100-0: nvidia.com/gpu allocatable 8 → 7 |"
    assert rows[1] == "| ❌ regression | check | GPU-ALLOC-001: PASS → FAIL (1 node short) |"
    assert rows[2].startswith("| ✅ allowed | driver | Node/gpu-h100-0: driver 565.57.01 → 570.86.15")
    assert "see **Changes since baseline** above" in md

    html = report.render(rep, "html")
    assert 'id="changes"' in html and html.index('id="changes"') < html.index("<h2>Checks</h2>")
    assert "nvidia.com/gpu allocatable 8 -&gt; 7" in html and "allowed kinds: driver." in html

    from gpucheck.report import terminal

    out = terminal.lines(rep)
    at = next(i for i, line in enumerate(out) if line.startswith("changes since baseline before.json, saved "))
    assert out[at].endswith(": 2 regression(s), 1 allowed, 2 other change(s); allowed kinds: driver")
    assert out[at + 1].split() == ["REGRESSION", "gpus", "Node/gpu-h100-0:", "nvidia.com/gpu", "allocatable", "8", "->",
                                   "7"]
    assert out[-1].startswith("gpucheck verdict: NOT_READY")


def test_a_report_without_a_baseline_has_no_changes_section():
    rep = report.build([CheckResult.of("GPU-DP-001", [Finding(Status.PASS, "ok")], "ok")], "major")
    assert rep.changes() == [] and "Changes since baseline" not in report.render(rep, "md")
    assert 'id="changes"' not in report.render(rep, "html")


def test_baseline_show_prints_pools_nodes_and_checks():
    from gpucheck.baseline import show

    text = "\n".join(show.lines(_baseline(nodes=fleet(**{"gpu-a100-0": mig_node()}))))
    assert "pool NVIDIA-H100-80GB-HBM3: 2 node(s), allocatable nvidia.com/gpu 16; driver 565.57.01, CUDA 12.7" in text
    assert "gpu-h100-0: nvidia.com/gpu 8/8 (allocatable/capacity)" in text
    assert "MIG mixed all-balanced (1g.10gb x8, 2g.20gb x4)" in text
    assert "device plugin DaemonSet/kube-system/nvidia-device-plugin-daemonset: nvcr.io/nvidia/k8s-device-plugin" \
           ":v0.17.1" in text
    assert "  PASS   GPU-ALLOC-001" in text


def test_baseline_checks_never_include_the_gate_itself():
    b = _baseline(checks=_checks(GPU_ALLOC_001="PASS", GPU_GATE_001="FAIL"))
    r = _gate(b)
    assert r.status == Status.PASS, [f.message for f in r.findings]
