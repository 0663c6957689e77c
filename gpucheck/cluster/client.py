"""Connect to a cluster and read it: paginated LISTs, transient-only retries, request counts.

Everything gpucheck reads goes through `Cluster`, so retries, error messages and the request
budget are the same everywhere.
"""

from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

from gpucheck.cluster.errors import ApiFailure, ClusterError, ConfigError, DeadlineExceeded, Forbidden, Unreachable
from gpucheck.cluster.view import View

TRANSIENT = {429, 500, 502, 503, 504}
PAGE = 500


@dataclass
class Cluster:
    api: client.ApiClient
    server: str
    source: str  # where the connection came from, for messages ("kubeconfig /x (context y)")
    requests: int = 0
    retries: int = 3
    timeout: float = 10.0
    deadline: float | None = None  # time.monotonic() value after which no call starts
    # Once the server has answered, a dropped connection is most likely a restart (an upgrade,
    # a control-plane node replaced): ride it out this long. A server that never answered is
    # misconfigured or down, and fails after `retries` quick attempts.
    outage_budget_s: float = 45.0
    answered: bool = False
    _sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def node_api(self) -> client.NodeV1Api:
        return client.NodeV1Api(self.api)

    @property
    def scheduling(self) -> client.SchedulingV1Api:
        return client.SchedulingV1Api(self.api)

    @property
    def storage(self) -> client.StorageV1Api:
        return client.StorageV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def authz(self) -> client.AuthorizationV1Api:
        return client.AuthorizationV1Api(self.api)

    def call(self, fn: Callable[..., Any], *args: Any, verb: str, resource: str, **kwargs: Any) -> Any:
        """One API call with retries for transient failures only (429, 5xx, dropped connection)."""
        delay = 0.5
        attempt = 0
        outage_since: float | None = None
        while True:
            attempt += 1
            timeout = self.timeout
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise DeadlineExceeded(f"the run's deadline passed before it could {verb} {resource}")
                timeout = min(timeout, left)
            self.requests += 1
            try:
                result = fn(*args, _request_timeout=timeout, **kwargs)
                self.answered = True
                return result
            except ApiException as exc:
                self.answered = True
                if exc.status in TRANSIENT and attempt <= self.retries:
                    wait = _retry_after(exc, delay)
                    if self._may_wait(wait):
                        self._sleep(wait)
                        delay = min(delay * 2, 8)
                        continue
                    # Waiting as asked would pass the run's deadline: fail now, with the reason.
                raise self.error(exc, verb, resource, attempt) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                now = time.monotonic()
                outage_since = outage_since if outage_since is not None else now
                patient = self.answered and now - outage_since + delay < self.outage_budget_s
                if not isinstance(exc, urllib3.exceptions.SSLError) and (attempt <= self.retries or patient) \
                        and self._may_wait(delay):
                    self._sleep(delay)
                    delay = min(delay * 2, 8)
                    continue
                raise Unreachable(f"cannot reach the API server at {self.server} ({self.source}): "
                                  f"{_short(exc)}" + (f" for {now - outage_since:.0f}s" if patient or
                                                      now - outage_since >= 1 else "")) from None

    def error(self, exc: ApiException, verb: str, resource: str, attempts: int = 1) -> ClusterError:
        """The ClusterError for an API error answer (also for calls that cannot go through
        `call`, such as a watch stream)."""
        if exc.status == 403:
            return Forbidden(f"forbidden: {self.source} may not {verb} {resource}: {_server_message(exc)}",
                             verb, resource)
        if exc.status == 401:
            return ConfigError(f"the API server at {self.server} rejected the credentials of "
                               f"{self.source} (401 Unauthorized)")
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        said = _server_message(exc)
        said = f": {said}" if said and said != exc.reason else ""
        return ApiFailure(f"{verb} {resource} failed: {exc.status} {exc.reason}{tries}{said}", exc.status)

    def _may_wait(self, seconds: float) -> bool:
        return self.deadline is None or time.monotonic() + seconds < self.deadline

    def list_views(self, fn: Callable[..., Any], *args: Any, resource: str, **kwargs: Any) -> list[View]:
        """Every item of a LIST, page by page (limit/continue), as Views over the raw JSON: no
        model deserialization, which is what makes a snapshot of thousands of objects cheap."""
        items: list[View] = []
        token = None
        while True:
            resp = self.call(fn, *args, verb="list", resource=resource, limit=PAGE, _continue=token,
                             _preload_content=False, **kwargs)
            try:
                page = _loads(resp.data)
            except ValueError:
                raise ApiFailure(f"list {resource}: the API server's answer is not JSON") from None
            finally:
                resp.release_conn()
            items.extend(View(i) for i in page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items


def _loads(data: bytes) -> Any:
    """json.loads without the cyclic collector: a page of 500 pods is ~100k dicts, and the
    collections their allocation triggers (rescanning every page already read) cost several
    times the parse itself. JSON cannot hold cycles, so nothing here needs the collector."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return json.loads(data)
    finally:
        if enabled:
            gc.enable()


def _server_message(exc: ApiException) -> str:
    """The API server's own reason (RBAC, an admission plugin, a terminating namespace)."""
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except (ValueError, AttributeError):
        return str(exc.reason)


def _retry_after(exc: ApiException, default: float) -> float:
    try:
        return min(float((exc.headers or {}).get("Retry-After", default)), 30.0)
    except (TypeError, ValueError):
        return default


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "timed out", "Name or service not known",
                   "certificate verify failed", "No route to host"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(exc).__name__


def connect(kubeconfig: str | None = None, context: str | None = None, timeout: float = 10.0) -> Cluster:
    """Build a client from a kubeconfig (or in-cluster config when running in a pod).

    Raises ConfigError naming the file or context when they cannot be used. Does not contact
    the server: the first call does, and reports Unreachable if it cannot.
    """
    cfg = client.Configuration()
    in_cluster = (kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST")
                  and not os.environ.get("KUBECONFIG"))
    if in_cluster:
        try:
            config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise ConfigError(f"in-cluster configuration unusable: {exc}") from None
        source = "in-cluster service account"
    else:
        path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
        if not os.path.isfile(path):
            raise ConfigError(f"kubeconfig {path} does not exist")
        try:
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                    persist_config=False)
        except ConfigException as exc:
            msg = str(exc).strip().strip("'\"")
            if context and "context" in msg.lower():
                raise ConfigError(f"kubeconfig {path} has no context {context!r}") from None
            raise ConfigError(f"kubeconfig {path} is not usable: {msg}") from None
        except Exception as exc:  # malformed YAML and friends come out of the loader raw
            raise ConfigError(f"kubeconfig {path} is not usable: {type(exc).__name__}: {_short(exc)}") from None
        source = f"kubeconfig {path}" + (f" (context {context})" if context else "")
    cfg.retries = False  # our retries, not urllib3's silent ones
    return Cluster(api=client.ApiClient(cfg), server=cfg.host, source=source, timeout=timeout)
