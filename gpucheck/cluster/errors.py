"""The few ways talking to a cluster fails, each with a message naming the input at fault."""

from __future__ import annotations


class ClusterError(RuntimeError):
    """Base class; `str(exc)` is a complete sentence for a user."""


class ConfigError(ClusterError):
    """The kubeconfig or context cannot be used (missing, malformed, unknown context)."""


class Unreachable(ClusterError):
    """The API server did not answer (refused, timed out, TLS failure, DNS)."""


class Forbidden(ClusterError):
    """RBAC denied a verb on a resource; `verb` and `resource` name what is missing."""

    def __init__(self, message: str, verb: str, resource: str):
        super().__init__(message)
        self.verb = verb
        self.resource = resource


class ApiFailure(ClusterError):
    """The API answered with an error that retries did not cure; `status` is its HTTP code."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class DeadlineExceeded(ClusterError):
    """The run's deadline (--gpucheck-timeout) passed before the work was done."""
