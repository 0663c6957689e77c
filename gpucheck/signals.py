"""Ctrl-C and SIGTERM in the gpucheck command: held while it starts, then an interrupt.

A signal that lands inside an import leaves a half-imported module behind (it cannot be
imported again), so the command holds SIGINT and SIGTERM from its first line until a safe
point, and acts on one that came then. After that both raise KeyboardInterrupt: SIGTERM (a
CronJob's deadline, CI cancelling a job) stops a run as Ctrl-C does, so what it created is
removed and its report written; Python's default would die on the spot.

Only the command's entry point holds them at start; importing gpucheck as a library changes
no handler. `deferred` keeps a run's wrap-up whole in any process, pytest's included.
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


def sigterm_interrupts() -> Any:
    """Make SIGTERM a KeyboardInterrupt (as the pytest plugin does for any run); returns the
    handler it replaced, or None when it did nothing: not the main thread, or the gpucheck
    command holds SIGTERM until its run's session starts."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is _record:
        return None
    return signal.signal(signal.SIGTERM, interrupt)


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
def deferred() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM for the block (a wrap-up that must finish: cleanup, the
    report) and give back the previous handlers after it. Yields the list of the signals that
    came meanwhile, for the caller to act on."""
    came: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield came
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: came.append(signum)) for sig in _SIGNALS}
    try:
        yield came
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
