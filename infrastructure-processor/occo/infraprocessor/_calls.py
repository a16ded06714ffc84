"""The scheduler's call pipeline: calls to the endpoints go out from the scheduler
thread, run elsewhere (the transport's threads or another process), and their outcomes
come back to the scheduler thread, which alone touches the slots.

:class:`CallPipeline` starts a call of an endpoint protocol's method with the handler of
its future, counts the calls not yet reported back, and runs the handlers of those that
are, in the order they finished.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from occo.util.comm import CallError, Client, encode_error, method_name, submit

__all__ = ["CallPipeline", "results_of"]

Handler = Callable[[Future[Any]], None]


class CallPipeline:
    def __init__(self) -> None:
        self._reports: queue.SimpleQueue[tuple[Handler, Future[Any]]] = queue.SimpleQueue()
        #: calls started and not yet handed to their handler
        self.outstanding = 0

    def submit(self, client: Client, method: Callable[..., Any], handler: Handler,
               **params: Any) -> None:
        """Start a call of ``method`` (an endpoint protocol's) on ``client``; ``handler``
        gets its future from :meth:`take`, on the thread that takes. A call the transport
        refuses at once reaches its handler as a failed future, like any other."""
        method_name(method)   # not a protocol's method: a TypeError, at once
        self.outstanding += 1
        try:
            future = submit(client, method, **params)   # its result typed, off this thread
        except Exception as exc:  # the endpoint refused before running anything
            future = Future()
            future.set_exception(exc)
        future.add_done_callback(lambda f: self._reports.put((handler, f)))

    def take(self, wait: float) -> None:
        """Run the handlers of every call finished by now, waiting up to ``wait`` seconds
        for the first one."""
        try:
            handler, future = self._reports.get(timeout=wait) if wait > 0 \
                else self._reports.get_nowait()
        except queue.Empty:
            return
        while True:
            self.outstanding -= 1
            handler(future)
            try:
                handler, future = self._reports.get_nowait()
            except queue.Empty:
                return

    def drain(self, within: float) -> None:
        """Hand every call still out to its handler, for at most ``within`` seconds; a
        handler that raises is passed over (used when the run's state is gone)."""
        deadline = time.monotonic() + within
        while self.outstanding > 0 and time.monotonic() < deadline:
            try:
                handler, future = self._reports.get(timeout=0.1)
            except queue.Empty:
                continue
            self.outstanding -= 1
            try:
                handler(future)
            except Exception:  # noqa: BLE001 - what it learnt before failing is what counts
                pass


def results_of(future: Future[Any], count: int, failed: Callable[[CallError], Any]
               ) -> list[Any]:
    """Per-item results of a batch call; a failed call fails each of its ``count`` items
    alike: ``failed(error)`` is the item (``Created(error=...)``, ...)."""
    try:
        return list(future.result())
    except Exception as exc:
        return [failed(CallError.from_json(encode_error(exc)))] * count
