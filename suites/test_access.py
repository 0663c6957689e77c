"""Checks that ask the API live questions (quick profile): access reviews for the training
service account, the Prometheus holding GPU metrics."""

import pytest

from gpucheck.access import CHECKS


@pytest.mark.gpucheck
@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_access(check_id, gpucheck):
    gpucheck.record(gpucheck.state.evaluate_access(check_id))
