"""Daemon processes of a simulated cluster: start, identify, wait for, stop.

Each process runs in its own session so it outlives the command that started it, and is
recorded with its kernel start time: a PID alone may have been reused by the time `sim down`
runs, and we must never signal a stranger's process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable


class ProcessError(RuntimeError):
    """A daemon did not start or did not become healthy; the message points at its log."""


@dataclass(frozen=True)
class Proc:
    name: str
    pid: int
    start_ticks: int
    log: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(taken: set[int] | None = None) -> int:
    """A free loopback port below the kernel's ephemeral range.

    A port the kernel hands out for bind(0) comes from the ephemeral range, where any
    outgoing connection (our own clients included) may take it before the daemon binds it.
    """
    taken = taken if taken is not None else set()
    high = max(_ephemeral_low() - 1, 20000)
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(15000, high)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise ProcessError("no free loopback port found between 15000 and the ephemeral range")


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start_ticks(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name in field 2 may contain spaces, so split after ')'.
    return int(raw.rsplit(")", 1)[1].split()[19])


def alive(proc: Proc) -> bool:
    ticks = _start_ticks(proc.pid)
    if ticks is None or ticks != proc.start_ticks:
        return False
    try:
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def spawn(name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        try:
            p = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env, close_fds=True,
            )
        except OSError as exc:
            raise ProcessError(f"{name}: cannot start {argv[0]}: {exc}") from None
    ticks = _start_ticks(p.pid) or 0
    return Proc(name=name, pid=p.pid, start_ticks=ticks, log=str(log))


def terminate(procs: list[Proc], grace: float = 10.0) -> None:
    """SIGTERM every live process group, then SIGKILL what is left after `grace` seconds."""
    live = [p for p in procs if alive(p)]
    for p in live:
        _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in live):
        _reap(live)
        time.sleep(0.05)
    for p in live:
        if alive(p):
            _signal_group(p, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in live):
        _reap(live)
        time.sleep(0.05)


def _signal_group(p: Proc, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _reap(procs: list[Proc]) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    for p in procs:
        try:
            os.waitpid(p.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def log_tail(proc: Proc, lines: int = 12) -> str:
    try:
        text = Path(proc.log).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    check: Callable[[], bool], deadline: float, proc: Proc, what: str, interval: float = 0.1
) -> None:
    """Wait for a daemon's health endpoint. Nothing can be watched before the API exists, so
    this is the one place that polls; it still has one deadline and fails fast if the process
    dies."""
    while True:
        if not alive(proc):
            raise ProcessError(f"{proc.name} exited while {what}; its log ({proc.log}) ends:\n{log_tail(proc)}")
        if check():
            return
        if time.monotonic() > deadline:
            raise ProcessError(f"{proc.name} did not become ready ({what}) in time; log {proc.log}:\n{log_tail(proc)}")
        time.sleep(interval)


def http_ok(url: str, ctx: ssl.SSLContext | None = None, expect: str | None = None) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                body = r.read().decode(errors="replace")
                return r.status == 200 and (expect is None or expect in body)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    return check


def save(procs: list[Proc], path: Path) -> None:
    path.write_text(json.dumps([p.to_json() for p in procs], indent=1))
