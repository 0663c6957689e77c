"""A loopback HTTP proxy in front of the simulated cluster's real kube-apiserver, for fault
injection: answer chosen requests with 403, 429 or 5xx (with Retry-After), cut watch streams,
refuse connections, and record every request gpucheck makes.

gpucheck talks plain HTTP to the proxy (a kubeconfig from `kubeconfig()`); the proxy speaks
TLS to the API server as the sim's admin client certificate. Every request gets its own
upstream connection and `Connection: close`, so each one is seen and can be faulted. Requests
that no fault matches are passed through byte for byte, watch streams included.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import yaml

# Collection path segments that are not a resource name but a scope (namespaces/<ns>/...).
_CORE = "/api/v1/"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    @property
    def watch(self) -> bool:
        return self.query.get("watch", [""])[0].lower() in ("true", "1")

    def target(self) -> tuple[str, str, str, str | None]:
        """(verb, resource, subresource, namespace) as RBAC would name them; resource is
        "<plural>" for the core group and "<plural>.<group>" otherwise."""
        path = self.path
        if path.startswith(_CORE):
            group, rest = "", path[len(_CORE):]
        elif path.startswith("/apis/"):
            parts = path[len("/apis/"):].split("/", 2)
            if len(parts) < 3:
                return (self.method.lower(), "", "", None)
            group, rest = parts[0], parts[2]
        else:
            return (self.method.lower(), path, "", None)
        segs = [s for s in rest.split("/") if s]
        namespace = None
        if len(segs) >= 2 and segs[0] == "namespaces" and len(segs) > 2:
            namespace, segs = segs[1], segs[2:]
        plural = segs[0] if segs else ""
        name = segs[1] if len(segs) > 1 else None
        sub = segs[2] if len(segs) > 2 else ""
        resource = plural if not group else f"{plural}.{group}"
        m = self.method
        if m == "GET":
            verb = "watch" if self.watch else "get" if name else "list"
        elif m == "POST":
            verb = "create"
        elif m == "PUT":
            verb = "update"
        elif m == "PATCH":
            verb = "patch"
        elif m == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            verb = m.lower()
        return verb, resource, sub, namespace


@dataclass
class Fault:
    """Requests for which `match` is true get `status` (with `retry_after`), are cut after
    `cut_after` seconds (watch streams), or are refused (`refuse`); `times` bounds how often
    (None: always)."""

    match: Callable[[Request], bool]
    status: int | None = None
    retry_after: float | None = None
    reason: str = ""
    cut_after: float | None = None
    refuse: bool = False
    times: int | None = None
    hits: int = 0

    def take(self, req: Request) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if not self.match(req):
            return False
        self.hits += 1
        return True


def verb_is(verb: str, resource: str, sub: str = "") -> Callable[[Request], bool]:
    def match(req: Request) -> bool:
        v, r, s, _ = req.target()
        return v == verb and r == resource and s == sub

    return match


@dataclass
class FaultProxy:
    upstream_host: str
    upstream_port: int
    ssl_context: ssl.SSLContext
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[Request, int | None]] = field(default_factory=list)
    down: bool = False  # refuse every connection (the API server is "unreachable")
    port: int = 0
    _sock: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def for_sim(cls, sim) -> "FaultProxy":
        """In front of a gpucheck.sim SimInfo's API server, as its admin user."""
        url = urlsplit(sim.server)
        pki = Path(sim.dir) / "pki"
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        admin = yaml.safe_load(Path(sim.kubeconfig).read_text())["users"][0]["user"]
        ctx.load_cert_chain(admin["client-certificate"], admin["client-key"])
        return cls(url.hostname or "127.0.0.1", url.port or 443, ctx)

    def start(self) -> "FaultProxy":
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="faultproxy").start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
            "users": [{"name": "proxy", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
            "current-context": "proxy"}))
        return path

    def targets(self) -> list[tuple[str, str, str]]:
        """Distinct (verb, resource, subresource) seen, in order of first use."""
        seen: dict[tuple[str, str, str], None] = {}
        with self._lock:
            for req, _ in self.log:
                v, r, s, _ = req.target()
                seen.setdefault((v, r, s), None)
        return list(seen)

    # -- the proxy ------------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self.down:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            head, body = _read_request(conn)
            if head is None:
                return
            req = _parse(head)
            fault = None
            with self._lock:
                for f in self.faults:
                    if f.take(req):
                        fault = f
                        break
                self.log.append((req, fault.status if fault else None))
            if fault is not None and fault.refuse:
                return
            if fault is not None and fault.status is not None:
                _answer(conn, fault.status, fault.retry_after, fault.reason or "injected by the fault proxy")
                return
            self._forward(conn, head, body, cut_after=fault.cut_after if fault else None)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _forward(self, conn: socket.socket, head: bytes, body: bytes, cut_after: float | None) -> None:
        up = self.ssl_context.wrap_socket(socket.create_connection((self.upstream_host, self.upstream_port), 10),
                                          server_hostname=self.upstream_host)
        try:
            up.sendall(_rewrite(head) + body)
            started = time.monotonic()
            up.settimeout(0.5 if cut_after else 600)
            sent_head = False
            buf = b""
            while True:
                if cut_after is not None and time.monotonic() - started > cut_after:
                    return  # cut mid-stream, as a dropped connection would
                try:
                    chunk = up.recv(65536)
                except (socket.timeout, TimeoutError):
                    continue
                if not chunk:
                    if not sent_head and buf:
                        conn.sendall(buf)
                    return
                if not sent_head:
                    buf += chunk
                    if b"\r\n\r\n" not in buf:
                        continue
                    h, rest = buf.split(b"\r\n\r\n", 1)
                    lines = [ln for ln in h.split(b"\r\n") if not ln.lower().startswith(b"connection:")]
                    conn.sendall(b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + rest)
                    sent_head = True
                    continue
                conn.sendall(chunk)
        finally:
            up.close()


def _read_request(conn: socket.socket) -> tuple[bytes | None, bytes]:
    conn.settimeout(30)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def _parse(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    url = urlsplit(target)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return Request(method, url.path, parse_qs(url.query), headers)


def _rewrite(head: bytes) -> bytes:
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith((b"connection:", b"authorization:"))]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n"


def _answer(conn: socket.socket, status: int, retry_after: float | None, reason: str) -> None:
    import json

    phrase = {403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error",
              502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(status, "Error")
    body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": reason,
                       "reason": phrase.replace(" ", ""), "code": status}).encode()
    extra = f"Retry-After: {retry_after:g}\r\n" if retry_after is not None else ""
    conn.sendall(f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\n{extra}"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
