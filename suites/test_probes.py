"""Pod checks (the standard profile): probe pods in the run's workspace, removed afterwards.
One test per probe: the checks graded from the same pods are recorded together."""

import pytest

from gpucheck.probes import GROUPS


@pytest.mark.gpucheck
@pytest.mark.parametrize("probe", sorted(GROUPS))
def test_probe(probe, gpucheck):
    wanted = [cid for cid in GROUPS[probe] if cid in gpucheck.state.expected()]
    gpucheck.record(*(gpucheck.state.evaluate_probe(cid) for cid in wanted))
