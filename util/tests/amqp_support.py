"""Helpers of the amqp tests: the real RabbitMQ (the breakable proxy in front of it is
:class:`occo.util.testing.FaultProxy`).

Tests of the amqp transport talk to the RabbitMQ at ``OCCO_TEST_AMQP_URL`` (default
``amqp://guest:guest@127.0.0.1:5672/%2F``) under a queue prefix of their own, and delete
every queue they created, also when they fail. Without a broker they skip (outside CI; the
test tool counts a skip as a failure under ``CI=true``).
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

AMQP_URL = os.environ.get("OCCO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
_parts = urlsplit(AMQP_URL)
BROKER = (_parts.hostname or "127.0.0.1", _parts.port or 5672)


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
