"""Test fixtures: one simulated cluster per test session.

The session's main process owns the cluster: it names it after its own pid and removes it at
the end. It is started lazily (a run of unit tests alone starts nothing), under a file lock so
xdist workers would share it too. A cluster left by a killed session is pruned at the next
session's start because its owner pid is gone.

Run these tests serially: fault scenarios change the shared cluster while they are applied,
and pytest-xdist 3.8's `--dist loadgroup`, which could keep them on one worker, does not group
under pytest 9.2 (pytest-dev/pytest-xdist#1386).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Iterator

import pytest

from gpucheck.sim import cluster

_OWNER_ENV = "GPUCHECK_TEST_SIM_OWNER"


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_controller(config) and _OWNER_ENV not in os.environ:
        os.environ[_OWNER_ENV] = str(os.getpid())
        cluster.prune_orphans()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_controller(config) and os.environ.get(_OWNER_ENV) == str(os.getpid()):
        cluster.down(_session_name())


def _session_name() -> str:
    return f"pytest-{os.environ.get(_OWNER_ENV, os.getpid())}"


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> cluster.SimInfo:
    lock_path = Path(tmp_path_factory.getbasetemp()).parent / "gpucheck-sim.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return cluster.up(name=_session_name(), owner_pid=int(os.environ.get(_OWNER_ENV, os.getpid())))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def api(sim: cluster.SimInfo):
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(sim.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        yield c


@pytest.fixture
def namespace(api) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (its pods go with it)."""
    import uuid

    from kubernetes import client

    core = client.CoreV1Api(api)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "gpucheck-tests"}}})
    try:
        yield name
    finally:
        core.delete_namespace(name, grace_period_seconds=0)
