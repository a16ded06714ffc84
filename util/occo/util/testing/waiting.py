"""Waiting for a condition with a deadline: the one polling helper of OCCO's tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.02,
               what: str = "condition",
               advance: Callable[[float], None] | None = None) -> T:
    """Call ``check`` until it returns something true, and return that.

    After ``timeout`` seconds of the monotonic clock it raises AssertionError naming
    ``what``, the timeout and the last value seen. Between calls it waits ``interval``
    seconds, or, with ``advance`` (a simulated clock's), moves that clock on instead.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} "
                                 f"(last: {_short(last)})")
        if advance is not None:
            advance(interval)
        else:
            pause.wait(interval)   # polling with a deadline, not waiting a fixed time


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
