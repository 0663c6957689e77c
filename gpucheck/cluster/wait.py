"""Wait for an object to reach a state: read, test, then watch, all under one deadline.

A watch can end early (server timeout, dropped connection); it is resumed from the last
resourceVersion seen, and re-listed when that version is too old (410 Gone).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import urllib3
from kubernetes import watch
from kubernetes.client.rest import ApiException

from gpucheck.cluster.errors import DeadlineExceeded


class WaitTimeout(TimeoutError):
    """The deadline passed; `last` holds the last version of the object seen (or None)."""

    def __init__(self, message: str, last: Any = None):
        super().__init__(message)
        self.last = last


def wait_for(
    list_fn: Callable[..., Any],
    predicate: Callable[[Any], bool],
    *list_args: Any,
    name: str,
    timeout: float,
    what: str,
    cluster: Any = None,
    resource: str = "objects",
    **list_kwargs: Any,
) -> Any:
    """Return the object named `name` (listed by `list_fn`) once `predicate` holds for it.

    `list_fn` is a list call of the Python client, with its positional arguments in
    `list_args` (``wait_for(core.list_namespaced_pod, ready, "ns", name="p", ...)``); it must be
    the client's own method, not a wrapper, because the watch decodes events by the return
    type its docstring names. A predicate may raise to fail fast (say, on an
    ImagePullBackOff) and that exception propagates.

    With `cluster` (a gpucheck.cluster.client.Cluster) the reads go through its retries and
    errors come out as its ClusterErrors, and a dropped watch is resumed by a fresh read;
    `resource` names what is read in those errors.
    """
    deadline = time.monotonic() + timeout
    selector = f"metadata.name={name}"
    last = None
    rv = None
    while True:
        if rv is None:
            if cluster is not None:
                items = cluster.call(list_fn, *list_args, field_selector=selector, verb="list", resource=resource,
                                     **list_kwargs)
            else:
                items = list_fn(*list_args, field_selector=selector, **list_kwargs)
            rv = items.metadata.resource_version
            if items.items:
                last = items.items[0]
                if predicate(last):
                    return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}", last)
        if cluster is not None and cluster.deadline is not None:
            if cluster.deadline <= time.monotonic():
                raise DeadlineExceeded(f"the run's deadline passed while waiting for {what}")
            remaining = min(remaining, cluster.deadline - time.monotonic())
        w = watch.Watch()
        try:
            for ev in w.stream(list_fn, *list_args, field_selector=selector, resource_version=rv,
                               timeout_seconds=max(1, int(remaining)), **list_kwargs):
                obj = ev["object"]
                if isinstance(obj, dict):  # an ERROR event carries a Status dict
                    if obj.get("code") == 410:
                        rv = None
                        break
                    continue
                rv = obj.metadata.resource_version
                if ev["type"] == "DELETED":
                    last = None
                    continue
                last = obj
                if predicate(obj):
                    w.stop()
                    return obj
                if time.monotonic() > deadline:
                    break
        except ApiException as exc:
            if exc.status == 410:
                rv = None
                continue
            if cluster is not None:
                raise cluster.error(exc, "watch", resource) from None
            raise
        except (OSError, urllib3.exceptions.HTTPError):
            if cluster is None:
                raise
            rv = None  # dropped: read again through the cluster's retries
        finally:
            w.stop()


def wait_deleted(list_fn: Callable[..., Any], *list_args: Any, name: str, timeout: float, what: str,
                 **list_kwargs: Any) -> None:
    """Return once the object named `name` no longer exists."""
    deadline = time.monotonic() + timeout
    while True:
        items = list_fn(*list_args, field_selector=f"metadata.name={name}", **list_kwargs)
        if not items.items:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}", items.items[0])
        w = watch.Watch()
        try:
            for ev in w.stream(list_fn, *list_args, field_selector=f"metadata.name={name}",
                               resource_version=items.metadata.resource_version,
                               timeout_seconds=max(1, int(remaining)), **list_kwargs):
                if ev["type"] == "DELETED":
                    return
        except ApiException as exc:
            if exc.status != 410:
                raise
        finally:
            w.stop()
