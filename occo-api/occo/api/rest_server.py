"""The REST service's HTTP server: waitress, with limits no slow or idle client outlasts.

waitress reads requests asynchronously, so a client that connects and sends nothing, or
trickles a request a byte at a time, costs a socket and a small buffer, not a thread. What
it does not bound on its own is how long and how many: by default it waits two minutes on
an idle connection, for ever on a request that never ends, and stops accepting anyone
once 100 connections are open. :class:`GuardedServer` adds:

- a request must have its headers within ``header_timeout`` seconds of its first byte and
  its body within ``body_timeout``; idle keep-alive connections close after
  ``idle_timeout`` (waitress's ``channel_timeout``); these are checked every second;
- at most ``max_connections`` open connections, and ``max_per_client`` from one address:
  past either, the connection of that client (or any) that has waited longest without a
  request in service is closed to make room, so a new client always gets in while the
  ones being served keep their connections.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

__all__ = ["ConnectionLimits", "GuardedServer", "create_guarded_server"]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long and how many connections the REST service holds (see the module)."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_timeout: int = 30
    max_connections: int = 512
    max_per_client: int = 256


class GuardedChannel(HTTPChannel):
    """A connection that remembers when its current request began."""

    request_began = 0.0

    def received(self, data: bytes) -> bool:
        if data and self.request is None:
            self.request_began = time.time()
        return super().received(data)

    def stalled(self, now: float, limits: ConnectionLimits) -> bool:
        """A request begun and not finished within its time (none in service)."""
        partial = self.request
        if partial is None or partial.completed or self.requests:
            return False
        limit = limits.body_timeout if partial.headers_finished else limits.header_timeout
        return now - self.request_began > limit

    def waiting(self) -> bool:
        """Nothing of it is being served: it may be closed to make room."""
        return not self.requests and not self.will_close


class GuardedServer(TcpWSGIServer):
    """waitress's TCP server with :class:`ConnectionLimits` enforced."""

    channel_class = GuardedChannel

    def __init__(self, application: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        self.limits = limits
        self.shed = 0   # connections closed to make room, since the start
        super().__init__(application, **kwargs)

    def maintenance(self, now: float) -> None:
        super().maintenance(now)   # idle connections past channel_timeout
        for channel in list(self.active_channels.values()):
            if isinstance(channel, GuardedChannel) and channel.stalled(now, self.limits):
                channel.will_close = True

    def handle_accept(self) -> None:
        super().handle_accept()
        self._make_room()

    def _make_room(self) -> None:
        channels = [c for c in self.active_channels.values()
                    if isinstance(c, GuardedChannel) and not c.will_close]
        per_client = Counter(_peer(c) for c in channels)
        crowded = {peer for peer, n in per_client.items() if n > self.limits.max_per_client}
        excess = len(channels) - self.limits.max_connections
        if excess <= 0 and not crowded:
            return
        # longest without activity first; the connection just accepted is the newest
        for channel in sorted((c for c in channels if c.waiting()),
                              key=lambda c: c.last_activity):
            peer = _peer(channel)
            if excess <= 0 and peer not in crowded:
                continue
            channel.will_close = True
            self.shed += 1
            excess -= 1
            per_client[peer] -= 1
            if per_client[peer] <= self.limits.max_per_client:
                crowded.discard(peer)
            if excess <= 0 and not crowded:
                return


def _peer(channel: HTTPChannel) -> str:
    addr = channel.addr
    return str(addr[0]) if isinstance(addr, tuple) and addr else str(addr)


def create_guarded_server(application: Any, *, host: str, port: int, threads: int,
                          limits: ConnectionLimits | None = None,
                          **adjustments: Any) -> GuardedServer:
    """A listening :class:`GuardedServer` on ``host:port`` (what ``waitress.create_server``
    makes for one TCP address, with the limits)."""
    limits = limits or ConnectionLimits()
    adj = Adjustments(host=host, port=port, threads=threads,
                      channel_timeout=limits.idle_timeout, cleanup_interval=1,
                      # waitress stops accepting at its limit; ours sheds before that
                      connection_limit=limits.max_connections + 64,
                      # poll(), not select(): select() fails on descriptors past 1024
                      asyncore_use_poll=True, **adjustments)
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    return GuardedServer(application, limits=limits, map={}, dispatcher=dispatcher, adj=adj,
                         sockinfo=adj.listen[0])
