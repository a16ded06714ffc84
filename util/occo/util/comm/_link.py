"""One AMQP connection owned by one I/O thread, that comes back after it drops.

pika's connections are not thread-safe, so each :class:`Link` runs a pika ``IOLoop`` in
a thread of its own and every use of the connection happens there; other threads hand it
work with :meth:`Link.call` (``add_callback_threadsafe``). The loop outlives connections:
when a connection cannot be opened or drops, the link opens a new one after a jittered
exponential backoff (:class:`~occo.util.ratelimit.Backoff`), for as long as the link
lives, and logs each loss and recovery. When the broker has been away for longer than
``reconnect_timeout`` the owner is told once per outage (``link_outage``), so that it can
fail what waits on the broker instead of letting it wait for ever.

The owner (the client or server side of the transport) implements ``link_up(connection)``,
``link_down(reason)`` and ``link_outage(error)``; all three run on the I/O thread.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import pika.exceptions
from pika.adapters.select_connection import IOLoop, SelectConnection

from ..errors import TransportError
from ..secrets import scrub
from ._amqp_config import AmqpSettings

__all__ = ["Link", "LinkOwner", "describe", "guarded"]

log = logging.getLogger(__name__)


class LinkOwner(Protocol):
    def link_up(self, connection: SelectConnection) -> None: ...

    def link_down(self, reason: str) -> None: ...

    def link_outage(self, error: TransportError) -> None: ...


def describe(exc: BaseException | None) -> str:
    """A short, password-free description of a pika error."""
    if exc is None:
        return "no reason given"
    if isinstance(exc, (pika.exceptions.ProbableAuthenticationError,
                        pika.exceptions.AuthenticationError)):
        return f"the broker refused the credentials (ACCESS_REFUSED): {scrub(str(exc))}"
    if isinstance(exc, pika.exceptions.ProbableAccessDeniedError):
        return f"the broker denied access to the virtual host: {scrub(str(exc))}"
    text = scrub(str(exc)) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` on the I/O thread without letting an exception stop the loop."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("unexpected error in the amqp transport's I/O thread (%s)",
                          getattr(fn, "__qualname__", fn))
            return None
    return wrapper


class Link:
    """A reconnecting pika ``SelectConnection`` and the thread that runs it."""

    def __init__(self, settings: AmqpSettings, role: str, owner: LinkOwner) -> None:
        self.settings = settings
        self.role = role
        self._owner = owner
        self._params = settings.parameters(f"occo {role} (pid {os.getpid()})")
        self._ioloop = IOLoop()
        self._rng = random.Random()
        self._connection: SelectConnection | None = None
        self._attempt = 0
        self._outage = 0                     # numbers outages, so a stale timer is ignored
        self._down_since: float | None = time.monotonic()
        self._outage_reported = False
        self._last_error = "not connected yet"
        self._closing = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"occo-amqp-{role}",
                                        daemon=True)

    # ------------------------------------------------------------------ any thread

    def start(self) -> None:
        self._thread.start()

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the I/O thread, soon."""
        self._ioloop.add_callback_threadsafe(guarded(fn))

    @property
    def in_io_thread(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def connected(self) -> bool:
        return self._down_since is None

    def close(self, timeout: float) -> bool:
        """Close the connection and end the thread; True if it ended within ``timeout``."""
        if not self._thread.is_alive():
            return True
        self.call(self._begin_close)
        return self._stopped.wait(timeout)

    # ------------------------------------------------------------------ I/O thread

    def later(self, delay: float, fn: Callable[[], Any]) -> object:
        return self._ioloop.call_later(max(0.0, delay), guarded(fn))

    def cancel(self, handle: object) -> None:
        self._ioloop.remove_timeout(handle)

    @property
    def connection(self) -> SelectConnection | None:
        conn = self._connection
        return conn if conn is not None and conn.is_open else None

    def drop(self) -> None:
        """Close the current connection (it will be opened again)."""
        conn = self._connection
        if conn is not None and conn.is_open:
            conn.close()

    def _run(self) -> None:
        self._arm_outage_timer()
        self._connect()
        try:
            while True:
                try:
                    self._ioloop.start()
                    break
                except Exception:  # raised inside pika, or by an unguarded callback
                    if self._closing:
                        # pika 1.4 asserts when a connection still opening is closed
                        log.debug("amqp %s I/O loop error while closing", self.role,
                                  exc_info=True)
                        break
                    log.exception("amqp %s I/O loop error; continuing", self.role)
        finally:
            try:
                self._ioloop.close()
            finally:
                self._stopped.set()

    def _connect(self) -> None:
        if self._closing:
            return
        try:
            self._connection = SelectConnection(
                self._params, on_open_callback=guarded(self._opened),
                on_open_error_callback=guarded(self._open_failed),
                on_close_callback=guarded(self._closed), custom_ioloop=self._ioloop)
        except Exception as exc:  # bad parameters, no sockets left, ...
            self._open_failed(None, exc)

    def _opened(self, connection: SelectConnection) -> None:
        if self._closing:
            connection.close()
            return
        if self._attempt or self._outage:
            log.warning("amqp %s reconnected to %s after %.1f s", self.role,
                        self.settings.safe_url, time.monotonic() - (self._down_since or 0))
        else:
            log.info("amqp %s connected to %s", self.role, self.settings.safe_url)
        self._attempt = 0
        self._down_since = None
        self._outage_reported = False
        self._outage += 1
        self._owner.link_up(connection)

    def _open_failed(self, connection: SelectConnection | None, exc: BaseException) -> None:
        self._connection = None
        self._last_error = describe(exc)
        log.debug("amqp %s: connecting to %s failed: %s", self.role, self.settings.safe_url,
                  self._last_error)
        self._retry()

    def _closed(self, connection: SelectConnection, reason: BaseException) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        if self._closing:
            self._ioloop.stop()
            return
        self._last_error = describe(reason)
        log.warning("amqp %s lost its connection to %s (%s); reconnecting", self.role,
                    self.settings.safe_url, self._last_error)
        self._down_since = time.monotonic()
        self._outage_reported = False
        self._outage += 1
        self._arm_outage_timer()
        self._owner.link_down(self._last_error)
        self._retry()

    def _retry(self) -> None:
        if self._closing:
            self._ioloop.stop()
            return
        delay = self.settings.backoff.delay(self._attempt, self._rng)
        self._attempt += 1
        self._ioloop.call_later(delay, guarded(self._connect))

    def _arm_outage_timer(self) -> None:
        outage = self._outage
        self._ioloop.call_later(self.settings.reconnect_timeout,
                                guarded(lambda: self._outage_due(outage)))

    def _outage_due(self, outage: int) -> None:
        if outage != self._outage or self._down_since is None or self._outage_reported \
                or self._closing:
            return
        self._outage_reported = True
        away = time.monotonic() - self._down_since
        error = TransportError(f"the AMQP broker at {self.settings.safe_url} has been "
                               f"unreachable for {away:.1f} s ({self._last_error})")
        error.retryable = True  # type: ignore[attr-defined]
        log.error("amqp %s: %s; still trying to reconnect", self.role, error)
        self._owner.link_outage(error)

    def _begin_close(self) -> None:
        self._closing = True
        conn = self._connection
        if conn is not None and not (conn.is_closed or conn.is_closing):
            try:
                conn.close()
                return  # _closed stops the loop
            except Exception:
                log.debug("closing the amqp %s connection failed", self.role, exc_info=True)
        self._ioloop.stop()
