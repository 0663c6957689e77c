"""Pod reads that the Python client gets subtly wrong."""

from __future__ import annotations

from typing import Any


def read_log(core: Any, name: str, namespace: str, container: str | None = None,
             limit_bytes: int = 1 << 20, _request_timeout: float | None = None) -> str:
    """A container's log as text. The client's default decoding turns the body into the
    repr of a bytes object ("b'...'"), so the raw response is read and decoded here."""
    kwargs: dict[str, Any] = {"_preload_content": False, "limit_bytes": limit_bytes,
                              "_request_timeout": _request_timeout}
    if container:
        kwargs["container"] = container
    resp = core.read_namespaced_pod_log(name, namespace, **kwargs)
    try:
        return resp.data.decode("utf-8", errors="replace")
    finally:
        resp.release_conn()
