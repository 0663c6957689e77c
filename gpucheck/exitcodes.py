"""One exit-code policy for the `gpucheck` CLI and `pytest --gpucheck`.

Numbers a pytest user already knows keep pytest's meaning (2 interrupted, 3 internal error,
4 usage error); the rest are gpucheck's own.
"""

READY = 0  # the cluster is ready (READY or READY_WITH_WARNINGS below --fail-on); command succeeded
NOT_READY = 1  # the verdict is NOT_READY
INTERRUPTED = 2  # Ctrl-C or SIGTERM; what was created has been removed
INTERNAL = 3  # a bug in gpucheck
USAGE = 4  # a bad option, profile, scenario or config value; the message names it
UNREACHABLE = 6  # the cluster's API could not be reached or the kubeconfig is unusable
SIM_FAILED = 7  # the simulated cluster could not be built or started
PUBLISH_FAILED = 8  # READY, but the summary ConfigMap or the Pushgateway push failed (the warning says why)
