"""Test fixtures: one simulated cluster per test process, reused by every test it runs.

Fault scenarios change a cluster while they are applied, so processes never share one: a
serial run has one cluster, and under pytest-xdist (`-n 2 --dist loadfile`, the README's test
command) each worker has its own, so a worker applying a fault never disturbs another's
tests. Modules stay whole on one worker (`loadfile`): their module-scoped fixtures (a second
cluster, a loopback Airflow) are started once. A cluster starts lazily (a run of unit tests
alone starts none), is named after the session's main process and removed at its end; one
left by a killed session is pruned at the next session's start because its owner is gone.
"""

from __future__ import annotations

import os
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
    # The main process removes every cluster of the session, a lost worker's included.
    if _is_controller(config) and os.environ.get(_OWNER_ENV) == str(os.getpid()):
        for i in cluster.list_all():
            if i.name == _session_prefix() or i.name.startswith(_session_prefix() + "-"):
                cluster.down(i.name)


def _session_prefix() -> str:
    return f"pytest-{os.environ.get(_OWNER_ENV, os.getpid())}"


@pytest.fixture(scope="session")
def sim(worker_id: str) -> Iterator[cluster.SimInfo]:
    name = _session_prefix() if worker_id == "master" else f"{_session_prefix()}-{worker_id}"
    info = cluster.up(name=name, owner_pid=int(os.environ.get(_OWNER_ENV, os.getpid())))
    try:
        yield info
    finally:
        cluster.down(name)


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


# Modules that take longest (seconds on two workers, from `--durations=0`), started first so
# no long module is left to run alone at the end. With `--no-loadscope-reorder`, xdist hands
# out modules in this order; the rest follow in their usual order.
_SLOW_MODULES = ("test_scenarios_checks.py", "test_sweep.py", "test_faults.py", "test_scale.py",
                 "test_plugin.py", "test_faults_cluster.py", "test_sim_lifecycle.py", "test_gate.py",
                 "test_security.py", "test_deploy_sim.py", "test_janitor.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(_SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a module kept
