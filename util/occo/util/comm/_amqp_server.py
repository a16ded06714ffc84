"""The serving side of the amqp transport: work queues, a worker pool, acks after the work.

Each served endpoint has a durable quorum queue ``<prefix>.<endpoint>`` (delivery limit
``max_redeliveries``, dead-lettering to the quorum queue ``<prefix>.<endpoint>.dead``) and
its own channel, with ``prefetch = concurrency`` and a pool of ``concurrency`` threads. A
request is:

- handled on the pool; the handler's result, or its exception as data
  (:func:`~occo.util.comm.base.encode_error`), is published to the caller's ``reply_to``
  and only then is the request acknowledged. A handler exception is an answer, not a
  reason to redeliver;
- redelivered by RabbitMQ when the worker dies (or its connection drops) before the ack,
  to whichever consumer of the queue is next, this worker after a reconnect included;
- sent back to the queue (``nack``) when it cannot be read (not JSON, a schema version
  this worker does not speak, no method) or when its handler raised a ``BaseException``
  that is not an ``Exception`` (a crash); on its last allowed delivery it is rejected
  instead, RabbitMQ moves it to the dead-letter queue, and the caller gets a
  ``TransportError`` saying so. A request that keeps killing its workers is dead-lettered
  by RabbitMQ itself once its ``x-delivery-count`` passes the limit.

A method the handler does not expose is refused at once (a ``TransportError`` for the
caller, as in-process), and acknowledged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel

from ..errors import TransportError
from ._amqp_config import AmqpSettings
from ._link import Link, describe, guarded
from .base import MESSAGE_SCHEMA, check_schema, encode_error
from .messages import json_default

__all__ = ["RpcServer"]

log = logging.getLogger(__name__)

_REFUSED_CODES = {403: "access refused", 404: "not found", 405: "resource locked",
                  406: "precondition failed"}


@dataclass(eq=False)
class _Served:
    """One served endpoint and its consumer's state (mutated on the I/O thread)."""

    endpoint: str
    handler: object
    methods: frozenset[str]
    concurrency: int
    queue: str
    dead: str
    pool: ThreadPoolExecutor
    channel: Channel | None = None
    consumer_tag: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    error: TransportError | None = None
    running: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)
    stopping: bool = False

    def current(self, channel: Channel) -> bool:
        """Whether ``channel`` is this queue's channel now (not one closed since)."""
        return channel is self.channel


def _idle(served: _Served) -> bool:
    return served.running == 0


class _Crash(Exception):
    """Internal marker: the handler raised a BaseException that is not an Exception."""


def _reply_body(payload: dict[str, Any]) -> bytes:
    return json.dumps({"schema": MESSAGE_SCHEMA, **payload}, separators=(",", ":"),
                      default=str).encode()


class RpcServer:
    """Serves endpoints of one transport over one connection (its own I/O thread)."""

    def __init__(self, settings: AmqpSettings) -> None:
        self.settings = settings
        self._served: dict[str, _Served] = {}
        self._lock = threading.Lock()
        self._connection: SelectConnection | None = None
        self.link = Link(settings, "server", self)
        self.link.start()

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(self._served)

    # ------------------------------------------------------------------ any thread

    def serve(self, endpoint: str, handler: object, methods: frozenset[str],
              concurrency: int) -> None:
        s = self.settings
        served = _Served(endpoint=endpoint, handler=handler, methods=methods,
                         concurrency=concurrency, queue=s.queue(endpoint),
                         dead=s.dead_queue(endpoint),
                         pool=ThreadPoolExecutor(max_workers=concurrency,
                                                 thread_name_prefix=f"occo-{endpoint}"))
        with self._lock:
            if endpoint in self._served:
                served.pool.shutdown()
                raise TransportError(f"endpoint {endpoint!r} is already served by this "
                                     "transport")
            self._served[endpoint] = served
        self.link.call(partial(self._open, served))
        bound = s.reconnect_timeout + 2 * s.connect_timeout + 5.0
        if not served.ready.wait(bound) and served.error is None:
            served.error = TransportError(f"cannot serve {endpoint!r}: no consumer on "
                                          f"{served.queue!r} at {s.safe_url} after {bound:g} s")
        if served.error is not None:
            with self._lock:
                self._served.pop(endpoint, None)
            served.stopping = True
            self.link.call(partial(self._stop_consuming, served))
            served.pool.shutdown(wait=False)
            raise served.error

    def close(self) -> None:
        """Stop consuming, let running handlers finish (``close_grace``), close."""
        with self._lock:
            served = list(self._served.values())
            self._served.clear()
        for item in served:
            item.stopping = True
            self.link.call(partial(self._stop_consuming, item))
        deadline = time.monotonic() + self.settings.close_grace
        for item in served:
            with item.idle:
                item.idle.wait_for(partial(_idle, item), max(0.0, deadline - time.monotonic()))
            if item.running:
                log.warning("closing while %d %s call(s) still run; RabbitMQ will redeliver "
                            "them", item.running, item.endpoint)
            item.pool.shutdown(wait=False, cancel_futures=True)
        self.link.close(self.settings.connect_timeout)

    # ------------------------------------------------------------------ I/O thread

    def link_up(self, connection: SelectConnection) -> None:
        self._connection = connection
        for served in list(self._served.values()):
            self._open(served)

    def link_down(self, reason: str) -> None:
        self._connection = None
        for served in self._served.values():
            served.channel = None
            served.consumer_tag = None

    def link_outage(self, error: TransportError) -> None:
        for served in list(self._served.values()):
            if not served.ready.is_set():
                served.error = TransportError(f"cannot serve {served.endpoint!r}: {error}")
                served.ready.set()

    def _open(self, served: _Served) -> None:
        conn = self.link.connection
        if conn is None or served.stopping or served.channel is not None:
            return
        # set at once, so a second _open before the channel is open does nothing
        served.channel = conn.channel(
            on_open_callback=guarded(partial(self._channel_open, served)))

    def _channel_open(self, served: _Served, channel: Channel) -> None:
        if served.stopping or not served.current(channel):
            channel.close()
            return
        channel.add_on_close_callback(guarded(partial(self._channel_closed, served)))
        arguments = {"x-queue-type": "quorum",
                     "x-delivery-limit": self.settings.max_redeliveries,
                     "x-dead-letter-exchange": "", "x-dead-letter-routing-key": served.dead}

        def consume(_: Any) -> None:
            served.consumer_tag = channel.basic_consume(
                served.queue, guarded(partial(self._on_request, served)),
                callback=lambda _: self._consuming(served))

        channel.queue_declare(
            served.dead, durable=True, arguments={"x-queue-type": "quorum"},
            callback=lambda _: channel.queue_declare(
                served.queue, durable=True, arguments=arguments,
                callback=lambda _: channel.basic_qos(prefetch_count=served.concurrency,
                                                     callback=consume)))

    def _consuming(self, served: _Served) -> None:
        if not served.ready.is_set():
            log.info("serving %s on %s at %s (concurrency %d, dead letters to %s)",
                     served.endpoint, served.queue, self.settings.safe_url,
                     served.concurrency, served.dead)
        served.ready.set()

    def _channel_closed(self, served: _Served, channel: Channel, reason: BaseException) -> None:
        if not served.current(channel):
            return
        served.channel = None
        served.consumer_tag = None
        if served.stopping or not isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            return  # closed by us, or with its connection (link_up opens it again)
        code = getattr(reason, "reply_code", None)
        text = getattr(reason, "reply_text", "") or describe(reason)
        if not served.ready.is_set() and code in _REFUSED_CODES:
            hint = ""
            if code == 406:
                hint = (f"; the queue exists with other arguments: every worker of prefix "
                        f"{self.settings.prefix!r} must use the same max_redeliveries "
                        "(delete the queue or choose another prefix)")
            served.error = TransportError(
                f"cannot serve {served.endpoint!r}: the broker at {self.settings.safe_url} "
                f"refused queue {served.queue!r} ({code} {_REFUSED_CODES[code]}: {text})"
                f"{hint}")
            served.ready.set()
            return
        if code == 406 and "acknowledgement" in text:
            log.error("RabbitMQ closed the %s channel: a handler ran longer than the broker's "
                      "consumer_timeout (%s); its request will run again. Raise "
                      "consumer_timeout in rabbitmq.conf above the longest call",
                      served.endpoint, text)
        else:
            log.warning("the %s channel closed (%s); opening it again", served.endpoint,
                        describe(reason))
        self.link.later(self.settings.backoff.bound(0), partial(self._open, served))

    def _stop_consuming(self, served: _Served) -> None:
        channel = served.channel
        if channel is not None and channel.is_open and served.consumer_tag:
            channel.basic_cancel(served.consumer_tag)
            served.consumer_tag = None

    def _on_request(self, served: _Served, channel: Channel, deliver: Any,
                    props: pika.BasicProperties, body: bytes) -> None:
        count = int((props.headers or {}).get("x-delivery-count", 0) or 0)
        try:
            message = json.loads(body)
            check_schema(message)
            method, params = message.get("method"), message.get("params", {})
            if not isinstance(method, str) or not isinstance(params, dict):
                raise TransportError("the request names no method or its params are not a "
                                     "mapping")
        except (ValueError, TransportError) as exc:
            self._unusable(served, channel, deliver, props, count,
                           f"the request cannot be read: {exc}")
            return
        if method not in served.methods:
            self._publish_reply(served, props, _reply_body({
                "error": encode_error(TransportError(
                    f"endpoint {served.endpoint!r} has no method {method!r}; it offers "
                    f"{', '.join(sorted(served.methods))}")), "refused": True}))
            channel.basic_ack(deliver.delivery_tag)
            return
        if served.stopping:  # a delivery that crossed our basic.cancel: give it back
            channel.basic_nack(deliver.delivery_tag, requeue=True)
            return
        with served.idle:
            served.running += 1
        try:
            served.pool.submit(self._work, served, channel, deliver.delivery_tag, props,
                               count, method, params)
        except RuntimeError:  # the pool was shut down meanwhile
            with served.idle:
                served.running -= 1
                served.idle.notify_all()
            channel.basic_nack(deliver.delivery_tag, requeue=True)

    def _unusable(self, served: _Served, channel: Channel, deliver: Any,
                  props: pika.BasicProperties, count: int, why: str) -> None:
        """Requeue a request this worker cannot handle; reject it on its last delivery."""
        if count < self.settings.max_redeliveries:
            log.warning("%s: %s (delivery %d of %d); returning it to %s", served.endpoint, why,
                        count + 1, self.settings.max_redeliveries + 1, served.queue)
            channel.basic_nack(deliver.delivery_tag, requeue=True)
            return
        log.error("%s: %s (delivery %d of %d); moving it to the dead-letter queue %s",
                  served.endpoint, why, count + 1, self.settings.max_redeliveries + 1,
                  served.dead)
        self._publish_reply(served, props, _reply_body({
            "error": encode_error(TransportError(
                f"{served.endpoint}: {why}; after {count + 1} deliveries the request was "
                f"moved to the dead-letter queue {served.dead!r}")), "refused": True}))
        channel.basic_nack(deliver.delivery_tag, requeue=False)

    def _publish_reply(self, served: _Served, props: pika.BasicProperties,
                       body: bytes) -> bool:
        channel = served.channel
        if not props.reply_to or channel is None or not channel.is_open:
            return False
        channel.basic_publish("", props.reply_to, body, pika.BasicProperties(
            content_type="application/json", delivery_mode=2,
            correlation_id=props.correlation_id, app_id="occo"))
        return True

    def _finish(self, served: _Served, channel: Channel, tag: int,
                props: pika.BasicProperties, count: int, outcome: bytes | _Crash) -> None:
        if isinstance(outcome, _Crash):
            if served.current(channel) and channel.is_open:
                self._unusable(served, channel, _Tag(tag), props, count, str(outcome))
            return
        sent = self._publish_reply(served, props, outcome)
        if served.current(channel) and channel.is_open:
            channel.basic_ack(tag)
        elif not sent:
            log.debug("%s: the channel of a finished request is gone; RabbitMQ redelivers "
                      "it", served.endpoint)

    # ------------------------------------------------------------------ pool threads

    def _work(self, served: _Served, channel: Channel, tag: int, props: pika.BasicProperties,
              count: int, method: str, params: dict[str, Any]) -> None:
        outcome: bytes | _Crash
        try:
            try:
                result = getattr(served.handler, method)(**params)
                outcome = json.dumps({"schema": MESSAGE_SCHEMA, "result": result},
                                     separators=(",", ":"), allow_nan=False,
                                     default=json_default).encode()
            except Exception as exc:  # errors are answers, carried back as data
                outcome = _reply_body({"error": encode_error(exc)})
            except BaseException as exc:  # noqa: B036 - a crash: the request goes back
                outcome = _Crash(f"the handler of {method} crashed "
                                 f"({type(exc).__name__}: {exc})")
            self.link.call(partial(self._finish, served, channel, tag, props, count, outcome))
        finally:
            with served.idle:
                served.running -= 1
                served.idle.notify_all()


@dataclass(frozen=True, slots=True)
class _Tag:
    """Stands in for a Basic.Deliver frame where only its tag is known."""

    delivery_tag: int
