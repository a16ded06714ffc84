"""Helpers of the amqp tests: the real RabbitMQ, a breakable TCP proxy in front of it.

Tests of the amqp transport talk to the RabbitMQ at ``OCCO_TEST_AMQP_URL`` (default
``amqp://guest:guest@127.0.0.1:5672/%2F``) under a queue prefix of their own, and delete
every queue they created, also when they fail. Without a broker they skip (outside CI; the
test tool counts a skip as a failure under ``CI=true``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

AMQP_URL = os.environ.get("OCCO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
_parts = urlsplit(AMQP_URL)
BROKER = (_parts.hostname or "127.0.0.1", _parts.port or 5672)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0,
               interval: float = 0.02, what: str = "condition") -> object:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        threading.Event().wait(interval)


def broker_reachable() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1.0):
            return True
    except OSError:
        return False


class Broker:
    """A plain pika connection for looking at and cleaning up queues from a test."""

    def __init__(self) -> None:
        import pika
        self._pika = pika
        self.connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        self.channel = self.connection.channel()

    def _fresh_channel(self):
        if not self.channel.is_open:
            self.channel = self.connection.channel()
        return self.channel

    def exists(self, queue: str) -> bool:
        try:
            self._fresh_channel().queue_declare(queue, passive=True)
            return True
        except self._pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                return False
            raise

    def count(self, queue: str) -> int:
        """Messages ready in ``queue`` (not those delivered and unacknowledged)."""
        return self._fresh_channel().queue_declare(queue, passive=True).method.message_count

    def get(self, queue: str):
        """One message (method, properties, body), acknowledged, or None."""
        method, props, body = self._fresh_channel().basic_get(queue, auto_ack=True)
        return None if method is None else (method, props, body)

    def publish(self, queue: str, body: bytes, **props) -> None:
        self._fresh_channel().basic_publish("", queue, body,
                                            self._pika.BasicProperties(**props))

    def declare_reply_queue(self) -> str:
        return self._fresh_channel().queue_declare("", exclusive=True).method.queue

    def delete(self, *queues: str) -> None:
        for queue in queues:
            self._fresh_channel().queue_delete(queue)

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


class Queues:
    """The queue prefix of one test, and the clean-up of every queue under it."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.prefix = f"occotest-{uuid.uuid4().hex[:12]}"
        self.endpoints: set[str] = set()
        self.extra: set[str] = set()

    def names(self, endpoint: str) -> tuple[str, str]:
        self.endpoints.add(endpoint)
        return f"{self.prefix}.{endpoint}", f"{self.prefix}.{endpoint}.dead"

    def forget_after(self, transport) -> None:
        """Delete what ``transport`` created at clean-up (its reply queue too, in case its
        close cannot reach the broker)."""
        self.endpoints.update(transport.served)
        if transport.reply_queue:
            self.extra.add(transport.reply_queue)

    def all(self) -> list[str]:
        return [q for ep in sorted(self.endpoints) for q in self.names(ep)] + sorted(self.extra)

    def cleanup(self) -> None:
        names = self.all()
        self.broker.delete(*names)
        left = [q for q in names if self.broker.exists(q)]
        assert not left, f"queues left behind: {left}"


class TcpProxy:
    """A TCP forwarder to the broker that a test can cut, or make refuse connections.

    Sockets are only shut down by :meth:`cut`; each pair is closed by the last of its two
    pump threads, so a file descriptor is never reused while a pump may still use it.
    """

    def __init__(self, target: tuple[str, int] = BROKER) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._refusing = False
        self._pairs: dict[int, list] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._flowing = threading.Event()  # cleared: nothing reaches the clients
        self._flowing.set()
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def url(self, base: str = AMQP_URL) -> str:
        parts = urlsplit(base)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host) \
            .geturl()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.accepted += 1
                key = self.accepted
                self._pairs[key] = [client, upstream, 2]  # two pumps still running
            for a, b, gated in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pump, args=(key, a, b, gated),
                                 daemon=True).start()

    @staticmethod
    def _shut(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _pump(self, key: int, src: socket.socket, dst: socket.socket, gated: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if gated:
                    self._flowing.wait(60)
                dst.sendall(data)
        except OSError:
            pass
        self._shut(src, dst)
        with self._lock:
            pair = self._pairs[key]
            pair[2] -= 1
            last = pair[2] == 0
            if last:
                del self._pairs[key]
        if last:
            src.close()
            dst.close()

    def cut(self) -> int:
        """Drop every connection through the proxy; return how many were cut."""
        with self._lock:
            pairs = [p for p in self._pairs.values() if p[2] == 2]
        for client, upstream, _ in pairs:
            self._shut(client, upstream)
        self._flowing.set()  # held data is dropped: its sockets are shut
        return len(pairs)

    def hold(self) -> None:
        """Stop passing what the broker sends on to the clients (until the next cut)."""
        self._flowing.clear()

    def refuse(self, refusing: bool = True) -> None:
        """While refusing, new connections are closed as soon as they are accepted."""
        self._refusing = refusing

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.cut()
