"""Ctrl-C and SIGTERM in the gpucheck command: held while it starts, then an interrupt.

A signal that lands inside an import leaves a half-imported module behind (it cannot be
imported again), so the command holds SIGINT and SIGTERM from its first line until a safe
point, and acts on one that came then. After that both raise KeyboardInterrupt: SIGTERM (a
CronJob's deadline, CI cancelling a job) stops a run as Ctrl-C does, so what it created is
removed and its report written; Python's default would die on the spot.

Only the command's entry point uses this; importing gpucheck as a library changes no handler.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_came: list[int] = []


def _record(signum: int, frame: Any) -> None:
    _came.append(signum)


def interrupt(signum: int, frame: Any) -> None:
    """A handler that makes a signal a KeyboardInterrupt, as Ctrl-C is."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def hold() -> None:
    """Record SIGINT and SIGTERM instead of acting on them."""
    if threading.current_thread() is threading.main_thread():
        for sig in _SIGNALS:
            signal.signal(sig, _record)


def release() -> None:
    """From now on SIGINT and SIGTERM interrupt; raise KeyboardInterrupt now if one came
    while they were held."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, interrupt)
    if _came:
        name = signal.Signals(_came[0]).name
        _came.clear()
        raise KeyboardInterrupt(name)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold the signals for the block (imports that must complete), then release them."""
    hold()
    try:
        yield
    finally:
        release()
