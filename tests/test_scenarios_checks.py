"""On the healthy sim every check of the standard profile passes; each fault scenario fails
the check that must catch it, naming the broken object, and changes no other check."""

from __future__ import annotations

import time

import pytest

from gpucheck.cluster.client import connect
from gpucheck.config import resolve
from gpucheck.inventory import ANALYZERS, evaluate
from gpucheck.inventory.snapshot import take
from gpucheck.model import Status
from gpucheck.run import RunState
from gpucheck.sim import expectations_file, scenarios

pytestmark = pytest.mark.sim

SETTINGS = resolve(cli={"config_file": expectations_file()}, env={})


def statuses(cluster) -> dict:
    snap = take(cluster)
    return {cid: evaluate(cid, snap, SETTINGS) for cid in ANALYZERS}


def everything(kubeconfig, config_file: str) -> dict:
    """Every check of the standard profile, inventory and probe pods, as one run does them."""
    state = RunState(resolve(cli={"kubeconfig": str(kubeconfig), "profile": "standard",
                                  "config_file": config_file}, env={}))
    try:
        return {cid: state.evaluate(cid) for cid in state.expected()}
    finally:
        assert state.cleanup() is None


def settle(cluster, predicate, timeout=45.0):
    """Controllers react asynchronously (DaemonSet rollouts, scheduling); wait, bounded, until
    the checks show `predicate`. A test-side wait over several objects, not a product path."""
    deadline = time.monotonic() + timeout
    while True:
        results = statuses(cluster)
        if predicate(results) or time.monotonic() > deadline:
            return results
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(sim):
    return connect(str(sim.kubeconfig))


@pytest.fixture(scope="module")
def run_config(tmp_path_factory) -> str:
    """The sim's expectations with a 20 s schedule budget (60 s by default): a claim that
    cannot bind (storage-volumes-gone) fails as it would, without a minute's wait."""
    path = tmp_path_factory.mktemp("scenario-config") / "gpucheck.yaml"
    path.write_text(open(expectations_file()).read() + "probes: {scheduleTimeout: 20}\n")
    return str(path)


# No minimum driver and no Prometheus are configured for the sim.
BASELINE_NOT_PASS = {"GPU-DRV-002": Status.SKIP, "GPU-METRICS-002": Status.SKIP}


def test_healthy_sim_passes_every_check(cluster, sim, run_config):
    results = everything(sim.kubeconfig, run_config)
    assert {cid: r.status for cid, r in results.items() if r.status != Status.PASS} == BASELINE_NOT_PASS, \
        {cid: r.summary for cid, r in results.items() if r.status != Status.PASS}
    from gpucheck import catalog

    assert set(results) == {c.id for c in catalog.checks().values() if c.runs_in("standard")}


def test_minimum_driver_is_enforced_when_configured(cluster, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("minDriver: '560.0'\n")
    result = evaluate("GPU-DRV-002", take(cluster), resolve(cli={"config_file": str(cfg)}, env={}))
    assert result.status == Status.FAIL
    failed = sorted(f.object for f in result.findings if f.status == Status.FAIL)
    assert failed == ["Node/gpu-a100-mig-0", "Node/gpu-l4-0", "Node/gpu-l4-1"]


@pytest.mark.parametrize("name", sorted(scenarios.catalog()))
def test_scenario_fails_only_the_intended_check(cluster, sim, run_config, name):
    scenario = scenarios.catalog()[name]
    baseline = {cid: r.status for cid, r in statuses(cluster).items()}
    scenarios.apply(cluster.api, name)
    try:
        inventory_affected = [c for c in (scenario.caught_by, *scenario.also_affects) if c in ANALYZERS]
        if inventory_affected:  # controllers react asynchronously: let the API view settle first
            settle(cluster, lambda rs: all(rs[c].status != baseline[c] for c in inventory_affected))
        results = everything(sim.kubeconfig, run_config)
        caught = results.get(scenario.caught_by)
        if caught is not None:
            # Minor checks warn rather than fail; either way the finding names the broken object.
            assert caught.status in (Status.FAIL, Status.WARN), (caught.status, caught.summary)
            target = _target(cluster, scenario)
            assert any(target in f.object or target in f.message for f in caught.findings
                       if f.status == caught.status), caught.findings
        changed = {cid for cid, r in results.items()
                   if r.status != BASELINE_NOT_PASS.get(cid, Status.PASS)}
        # A fault the catalog's checks cannot see yet (its check is not in this build) must
        # change nothing at all.
        allowed = {scenario.caught_by, *scenario.also_affects} if caught is not None else set()
        assert changed <= allowed, f"{name} also changed {sorted(changed - allowed)}: " + "; ".join(
            results[c].summary for c in changed - allowed)
    finally:
        scenarios.revert(cluster.api, name)
        settle(cluster, lambda rs: {c: r.status for c, r in rs.items()} == baseline, timeout=60)


def _target(cluster, scenario) -> str:
    for action in scenario.actions:
        (kind, spec), = action.items()
        if "pool" in spec:
            return scenarios.target_node(cluster.api, spec["pool"])
        if kind == "createObject" and spec["kind"] == "ClusterRoleBinding":
            return spec["subjects"][0]["name"]  # the identity it over-privileges
        if kind == "createObject" and spec["kind"] != "Namespace":
            return spec["metadata"]["name"]
        if kind == "deleteObject":  # the object is gone: findings name its kind
            return spec["kind"]
        if kind == "patchDaemonSet":
            return spec["name"]
    raise AssertionError(f"no target in {scenario.name}")


def test_quick_profile_requests_do_not_grow_with_nodes(cluster):
    """LIST with pagination and no per-node GET: one request per kind for 7 nodes (for 600,
    see tests/test_scale.py)."""
    from gpucheck.inventory.snapshot import KINDS

    before = cluster.requests
    take(cluster)
    assert cluster.requests - before == len(KINDS)
