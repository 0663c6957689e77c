"""gpucheck's graded check suites, run by `pytest --gpucheck` (installed as gpucheck._suites)."""
