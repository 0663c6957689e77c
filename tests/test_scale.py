"""The quick profile's API cost does not grow with the fleet: on the `large` profile (600
nodes, 550 with GPUs) one snapshot is one paginated LIST per kind, no per-node GET.

This module starts its own cluster of the `large` profile (about 35 s), beside the session's."""

from __future__ import annotations

import math
import os

import pytest

from gpucheck.cluster.client import PAGE, connect
from gpucheck.config import resolve
from gpucheck.inventory import ANALYZERS, evaluate
from gpucheck.inventory.snapshot import KINDS, take
from gpucheck.model import Status
from gpucheck.sim import cluster

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def large():
    name = f"pytest-large-{os.getpid()}"
    info = cluster.up(name=name, profile="large", owner_pid=os.getpid(), timeout=300)
    try:
        yield connect(str(info.kubeconfig))
    finally:
        cluster.down(name)


def pages(snap) -> int:
    return sum(max(1, math.ceil(len(getattr(snap, kind)) / PAGE)) for kind in KINDS)


def test_a_snapshot_of_600_nodes_is_one_paginated_list_per_kind(large, sim):
    before = large.requests
    snap = take(large)
    assert len(snap.nodes) == 600 and not snap.errors
    assert large.requests - before == snap.requests == pages(snap)
    # The same code on the 7-node session cluster: the difference is pages, not nodes.
    small = connect(str(sim.kubeconfig))
    small_snap = take(small)
    assert small_snap.requests == len(KINDS) == pages(small_snap)
    assert snap.requests - small_snap.requests == pages(snap) - len(KINDS) <= len(KINDS)


def test_every_quick_check_decides_on_the_large_fleet(large):
    snap = take(large)
    settings = resolve(env={})
    before = large.requests
    results = {cid: evaluate(cid, snap, settings) for cid in ANALYZERS}
    assert large.requests == before  # analyzers read the snapshot only
    assert not [cid for cid, r in results.items() if r.status == Status.ERROR]
    assert results["GPU-INV-001"].status == Status.PASS
    assert "550 GPU nodes" in results["GPU-INV-001"].summary
