"""API-only checks (the quick profile): one snapshot, one analyzer per check id."""

import pytest

from gpucheck.inventory import ANALYZERS


@pytest.mark.gpucheck
@pytest.mark.parametrize("check_id", sorted(ANALYZERS))
def test_inventory(check_id, gpucheck):
    gpucheck.record(gpucheck.state.evaluate_inventory(check_id))
