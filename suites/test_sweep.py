"""The mapped-sweep load test (the full profile): the bundled Airflow DAG runs one GPU pod per
experiment, ramped up stage by stage, measured from Kubernetes. Both checks are graded from
the one sweep, in one test."""

import pytest

from gpucheck.sweep.check import CHECKS


@pytest.mark.gpucheck
@pytest.mark.parametrize("sweep", ["airflow"])
def test_sweep(sweep, gpucheck):
    wanted = [cid for cid in CHECKS if cid in gpucheck.state.expected()]
    gpucheck.record(*gpucheck.state.evaluate_sweep(wanted))
