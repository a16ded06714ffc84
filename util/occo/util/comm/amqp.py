"""The ``amqp`` transport: OCCO's endpoints over RabbitMQ, through pika.

Every process that runs endpoints (``occo worker <endpoint>``) consumes the endpoint's
durable work queue; every process that calls them publishes requests there and waits for
the replies on a reply queue of its own. Any number of workers on any machines share an
endpoint's work: RabbitMQ hands each request to one of them, and to another when that one
dies before it acknowledged the request (which it does only after the work is done).

- :mod:`._amqp_client`: requests, replies, timeouts, publisher confirms.
- :mod:`._amqp_server`: queues, prefetch, the worker pool, acks, dead-lettering.
- :mod:`._link`: the connection's I/O thread and reconnecting with backoff.
- :mod:`._amqp_config`: settings, validation, the URL without its password.

``docs/transport.rst`` describes the wire format and the decisions behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import TransportError
from ..ratelimit import Backoff
from ._amqp_client import AmqpClient, RpcClient
from ._amqp_config import DEFAULT_URL, AmqpSettings, settings_from
from ._amqp_server import RpcServer
from .base import Client, Transport, rpc_methods

__all__ = ["AmqpTransport", "AmqpSettings", "DEFAULT_URL"]


class AmqpTransport(Transport):
    """Endpoints served and called through the RabbitMQ at ``url``.

    ``prefix`` names the queues (``<prefix>.<endpoint>``, ``<prefix>.<endpoint>.dead``,
    ``<prefix>.reply.<id>``), so several OCCO installations can share one broker.
    ``rpc_timeout`` bounds every call; ``prefetch`` is the concurrency of :meth:`serve`
    when none is given; ``max_redeliveries`` bounds how often a request that cannot be
    handled is delivered again before it is dead-lettered; ``reconnect_timeout`` is how
    long the broker may stay away before waiting calls fail. Connections are opened on
    first use: by :meth:`serve`, which waits until the endpoint's consumer runs, and by
    the first client.
    """

    name = "amqp"

    def __init__(self, url: str = DEFAULT_URL, *, prefix: str = "occo",
                 rpc_timeout: float = 3600.0, prefetch: int = 8, max_redeliveries: int = 3,
                 reconnect_timeout: float = 30.0, connect_timeout: float = 5.0,
                 close_grace: float = 30.0, backoff: Backoff | None = None) -> None:
        values: dict[str, Any] = {
            "url": url, "prefix": prefix, "rpc_timeout": rpc_timeout, "prefetch": prefetch,
            "max_redeliveries": max_redeliveries, "reconnect_timeout": reconnect_timeout,
            "connect_timeout": connect_timeout, "close_grace": close_grace}
        extra = {"backoff": backoff} if backoff is not None else {}
        self._init(settings_from(values, **extra))

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any], **overrides: Any) -> AmqpTransport:
        """A transport from a ``transport:`` mapping as in occo.yaml (``backend`` ignored)."""
        transport = cls.__new__(cls)
        transport._init(settings_from(mapping, **overrides))
        return transport

    def _init(self, settings: AmqpSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: RpcClient | None = None
        self._server: RpcServer | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """The broker URL without its password."""
        return self.settings.safe_url

    @property
    def served(self) -> tuple[str, ...]:
        """The endpoints this transport serves."""
        return self._server.endpoints if self._server is not None else ()

    @property
    def reply_queue(self) -> str | None:
        """This transport's reply queue (None until its first client is made)."""
        return self._client.reply_queue if self._client is not None else None

    def __repr__(self) -> str:
        return f"AmqpTransport({self.url!r}, prefix={self.settings.prefix!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise TransportError(f"the amqp transport to {self.url} is closed")

    def serve(self, endpoint: str, handler: object, *, methods: Iterable[str] | None = None,
              concurrency: int | None = None) -> None:
        """Consume ``<prefix>.<endpoint>`` with ``concurrency`` handler threads.

        Returns once the consumer runs; raises ``TransportError`` when the broker cannot be
        reached within the reconnect bound or refuses the queue.
        """
        exposed = rpc_methods(handler, methods)
        size = self.settings.prefetch if concurrency is None else concurrency
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise TransportError(f"serving {endpoint!r}: concurrency must be an integer >= 1, "
                                 f"got {size!r}")
        with self._lock:
            self._check_open()
            if self._server is None:
                self._server = RpcServer(self.settings)
            server = self._server
        server.serve(endpoint, handler, exposed, size)

    def client(self, endpoint: str) -> Client:
        with self._lock:
            self._check_open()
            if self._client is None:
                self._client = RpcClient(self.settings)
            return AmqpClient(self._client, endpoint)

    def close(self) -> None:
        """Stop serving (running handlers get ``close_grace`` to finish), then stop calling.

        Calls still waiting fail with ``TransportError``; the reply queue is deleted. The
        endpoints' queues stay: they are durable and shared with other workers.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            server, client = self._server, self._client
        if server is not None:
            server.close()
        if client is not None:
            client.close()
