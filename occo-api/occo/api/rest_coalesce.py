"""Concurrent identical reads share one computation (request coalescing).

Fifty clients polling the status of one infrastructure would otherwise each read and
encode the same few hundred instance records. With :class:`Coalescer`, the requests that
arrive while a status is being computed wait for the *next* computation, which starts
after all of them arrived and answers them all: nobody gets an answer computed before its
request came in (no staleness, unlike a time-based cache), and the work per wave is one
computation instead of one per client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["Coalescer"]


class _Flight:
    __slots__ = ("started", "done", "result", "error")

    def __init__(self) -> None:
        self.started = False
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class _Key:
    __slots__ = ("running", "next")

    def __init__(self) -> None:
        self.running: _Flight | None = None
        self.next: _Flight | None = None


class Coalescer:
    """``get(key, compute)``: ``compute()``'s result, shared with concurrent callers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[Hashable, _Key] = {}
        self.computed = 0
        self.served = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            self.served += 1
            state = self._keys.get(key)
            if state is None:
                state = self._keys[key] = _Key()
            if state.next is None:
                state.next = _Flight()
            flight = state.next  # not started yet: it starts after this arrival
        lead = False
        while True:
            with self._lock:
                if flight.started:
                    break
                if state.running is None:
                    flight.started = lead = True
                    state.running, state.next = flight, None
                    self.computed += 1
                    break
                current = state.running
            current.done.wait()
        if lead:
            try:
                flight.result = compute()
            except BaseException as exc:  # every caller of this flight gets it
                flight.error = exc
            finally:
                with self._lock:
                    state.running = None
                    if state.next is None and self._keys.get(key) is state:
                        del self._keys[key]
                flight.done.set()
        else:
            flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return flight.result
