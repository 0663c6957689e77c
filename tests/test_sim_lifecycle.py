"""`gpucheck sim` up/down/status as a user runs them: nothing is left behind, leftovers are found."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gpucheck import exitcodes
from gpucheck.sim import cluster, processes

GPUCHECK = [sys.executable, "-m", "gpucheck"]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*GPUCHECK, *args], capture_output=True, text=True, timeout=timeout)


def test_unknown_profile_is_a_usage_error_listing_the_profiles():
    res = run("sim", "up", "--name", "never", "--profile", "h200-dreams")
    assert res.returncode == exitcodes.USAGE
    assert "unknown profile 'h200-dreams'" in res.stderr and "default, large" in res.stderr
    assert "Traceback" not in res.stderr
    assert not cluster.cluster_dir("never").exists()


def test_unknown_scenario_is_a_usage_error_listing_the_scenarios():
    res = run("sim", "up", "--name", "never", "--scenario", "cosmic-rays")
    assert res.returncode == exitcodes.USAGE
    assert "cosmic-rays" in res.stderr and "gpu-withheld" in res.stderr
    assert "Traceback" not in res.stderr


def test_kubeconfig_of_a_missing_cluster_says_how_to_start_one():
    res = run("sim", "kubeconfig", "--name", "absent")
    assert res.returncode == exitcodes.SIM_FAILED
    assert "gpucheck sim up --name absent" in res.stderr


@pytest.mark.sim
def test_up_then_down_leaves_no_process_port_or_directory():
    name = f"lifecycle-{os.getpid()}"
    res = run("sim", "up", "--name", name)
    assert res.returncode == 0, res.stderr
    kubeconfig = run("sim", "kubeconfig", "--name", name).stdout.strip().splitlines()[-1]
    assert os.path.isfile(kubeconfig)
    info = cluster.info(name)
    assert info and info.healthy
    ports = json.loads((info.dir / "state.json").read_text())["ports"]
    assert all(processes.port_in_use(ports[k]) for k in ("etcd", "apiserver", "kwok"))
    status = run("sim", "status", "--name", name)
    assert status.returncode == 0 and "running" in status.stdout

    res = run("sim", "down", "--name", name)
    assert res.returncode == 0, res.stderr
    assert not any(processes.alive(p) for p in info.procs)
    assert not any(processes.port_in_use(p) for p in ports.values())
    assert not info.dir.exists()


@pytest.mark.sim
def test_cluster_of_a_killed_run_is_found_and_cleaned():
    name = f"orphan-{os.getpid()}"
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cluster.up(name=name, owner_pid=owner.pid)
        info = cluster.info(name)
        assert info and info.healthy
        # The run that owned it is killed, and so are some of its daemons.
        owner.kill()
        owner.wait()
        os.kill(next(p.pid for p in info.procs if p.name == "kube-apiserver"), signal.SIGKILL)
        time.sleep(0.5)
        status = run("sim", "status")
        assert name in status.stdout
        removed = cluster.prune_orphans()
        assert name in removed
        assert not any(processes.alive(p) for p in info.procs)
        assert not info.dir.exists()
    finally:
        owner.kill()
        cluster.down(name)


@pytest.mark.sim
def test_up_replaces_a_broken_cluster_of_the_same_name():
    name = f"broken-{os.getpid()}"
    try:
        first = cluster.up(name=name)
        os.kill(next(p.pid for p in first.procs if p.name == "kwok"), signal.SIGKILL)
        time.sleep(0.5)
        assert not cluster.info(name).healthy
        res = run("sim", "up", "--name", name)
        assert res.returncode == 0, res.stderr
        second = cluster.info(name)
        assert second.healthy and second.server != ""
        assert not any(processes.alive(p) for p in first.procs)
    finally:
        cluster.down(name)


def test_missing_go_is_a_clear_error_naming_what_to_install(tmp_path):
    env = {**os.environ, "GPUCHECK_CACHE_DIR": str(tmp_path / "empty-cache"),
           "PATH": os.path.dirname(sys.executable)}
    res = subprocess.run([*GPUCHECK, "sim", "build"], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == exitcodes.SIM_FAILED
    assert "Go is needed" in res.stderr and "GPUCHECK_KUBE_APISERVER_BINARY" in res.stderr
    assert "Traceback" not in res.stderr
