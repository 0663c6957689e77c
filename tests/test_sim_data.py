"""Profiles, recordings and stage data of the sim: pure logic, no cluster."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from gpucheck.sim import profiles, smi_render


def test_default_profile_is_the_documented_mixed_fleet():
    p = profiles.load("default")
    pools = {pool.name: pool for pool in p.pools}
    assert pools["h100"].gpu.count == 8 and pools["h100"].gpu.product == "NVIDIA-H100-80GB-HBM3"
    assert pools["h100"].taints == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert pools["a100-mig"].gpu.mig_strategy == "mixed"
    assert pools["l4"].gpu.product == "NVIDIA-L4"
    assert pools["cpu"].gpu is None


def test_large_profile_has_at_least_500_gpu_nodes():
    assert profiles.load("large").gpu_node_count >= 500


def test_mixed_strategy_node_advertises_slices_and_no_full_gpus():
    node = next(n for n in profiles.node_objects(profiles.load("default"))
                if n["metadata"]["name"] == "gpu-a100-mig-0")
    alloc = node["status"]["allocatable"]
    assert "nvidia.com/gpu" not in alloc
    assert alloc["nvidia.com/mig-1g.10gb"] == "8" and alloc["nvidia.com/mig-3g.40gb"] == "4"
    assert node["metadata"]["labels"]["nvidia.com/mig-1g.10gb.count"] == "8"


@pytest.mark.parametrize("bad", ["nope", "also/missing.yaml"])
def test_unknown_profile_names_the_valid_ones(bad):
    with pytest.raises(profiles.ProfileError) as err:
        profiles.load(bad)
    assert bad in str(err.value)


def test_malformed_profile_file_is_named(tmp_path):
    f = tmp_path / "fleet.yaml"
    f.write_text("pools: [{name: x}]\n")
    with pytest.raises(profiles.ProfileError) as err:
        profiles.load(str(f))
    assert str(f) in str(err.value)


@pytest.mark.parametrize("name", profiles.builtin_names())
def test_every_gpu_pool_has_a_matching_recording(name):
    for pool in profiles.load(name).pools:
        if pool.gpu:
            rec = smi_render.parse_q(smi_render.read_recording(pool.gpu.recording))
            assert len(rec.gpus) == pool.gpu.count
            assert all(g.name.replace(" ", "-").endswith(pool.gpu.product.split("NVIDIA-")[-1]) for g in rec.gpus)
            driver_line = next(line for line in rec.header if line.startswith("Driver Version"))
            assert driver_line.endswith(pool.gpu.driver)


def test_a_container_sees_only_its_gpus_with_per_node_uuids():
    rec = smi_render.parse_q(smi_render.read_recording("h100-80gb-hbm3_565.57.01.q.txt"))
    out = smi_render.render_q(rec, "node-a", [2, 5])
    assert "Attached GPUs                             : 2" in out
    assert out.count("GPU UUID") == 2
    assert sum(1 for line in out.splitlines() if line.startswith("GPU 0000")) == 2
    other = smi_render.render_q(rec, "node-b", [2])
    assert smi_render.node_gpu_uuid("node-a", 2) in out and smi_render.node_gpu_uuid("node-b", 2) in other
    assert smi_render.node_gpu_uuid("node-a", 2) != smi_render.node_gpu_uuid("node-b", 2)


def test_failures_print_the_recorded_message_with_nvidia_smi_exit_codes():
    text, code = smi_render.render_error("couldnt-communicate")
    assert "couldn't communicate with the NVIDIA driver" in text and code == 9
    assert smi_render.render_error("no-devices") == ("No devices were found\n", 6)
    with pytest.raises(ValueError):
        smi_render.render_error("solar-flare")


def test_kwok_config_declares_every_pod_and_node_stage():
    docs = list(yaml.safe_load_all((resources.files("gpucheck.sim") / "data" / "kwok.yaml").read_text()))
    stages = {d["metadata"]["name"] for d in docs if d["kind"] == "Stage"}
    assert {"node-initialize", "node-heartbeat", "pod-create", "pod-ready", "pod-complete",
            "pod-fail", "pod-delete"} <= stages
