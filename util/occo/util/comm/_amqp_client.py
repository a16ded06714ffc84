"""The calling side of the amqp transport: requests out, replies in, Futures completed.

One :class:`RpcClient` per transport owns one connection and its I/O thread
(:class:`~occo.util.comm._link.Link`); every :class:`AmqpClient` of that transport, used
from any number of threads, hands its calls to it. A call:

1. is encoded in the caller's thread (parameters that are not JSON fail there and then);
2. is published by the I/O thread, persistent, to the endpoint's queue
   ``<prefix>.<endpoint>`` with a correlation id, ``reply_to`` = this client's reply queue,
   ``mandatory`` (no queue = no endpoint: the broker returns it and the call fails at once)
   and a publisher confirm;
3. ends when the reply with its correlation id arrives, or with ``CallTimeoutError`` after
   ``rpc_timeout`` seconds, so no Future waits for ever.

The reply queue ``<prefix>.reply.<uuid>`` is durable and not exclusive, and expires only
after the client has been gone for longer than the reconnect bound: replies sent while the
connection was down wait there and arrive after the reconnect. Requests that the broker
had not confirmed when the connection dropped are published again after it (at least
once: their handler may run twice, the caller sees one result, later duplicates are
dropped). When the broker stays away longer than ``reconnect_timeout``, every waiting call
fails with a retryable :class:`~occo.util.errors.TransportError`, and so do new calls until
the connection is back.

Futures are completed on the I/O thread, so done-callbacks run there: they must be short
and must not wait for another call (``AmqpClient.call`` refuses to, instead of hanging).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, InvalidStateError
from functools import partial
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel

from ..errors import CallTimeoutError, TransportError
from ._amqp_config import AmqpSettings
from ._link import Link, describe, guarded
from .base import Client, RemoteError, check_schema, request_message
from .messages import json_default

__all__ = ["RpcClient", "AmqpClient"]

log = logging.getLogger(__name__)

NO_ROUTE = 312


class _Call:
    __slots__ = ("cid", "future", "endpoint", "method", "body", "deadline", "timer")

    def __init__(self, endpoint: str, method: str, body: bytes, deadline: float) -> None:
        self.cid = uuid.uuid4().hex
        self.future: Future[Any] = Future()
        self.endpoint = endpoint
        self.method = method
        self.body = body
        self.deadline = deadline
        self.timer: object | None = None

    @property
    def name(self) -> str:
        return f"{self.endpoint}.{self.method}"


def _settle(future: Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:  # cancelled by the caller meanwhile
        pass


def _retryable(message: str) -> TransportError:
    error = TransportError(message)
    error.retryable = True  # type: ignore[attr-defined]
    return error


class RpcClient:
    """The I/O side shared by all clients of one transport."""

    def __init__(self, settings: AmqpSettings) -> None:
        self.settings = settings
        self.reply_queue = f"{settings.prefix}.reply.{uuid.uuid4().hex}"
        self._outbox: deque[_Call] = deque()      # any thread appends, I/O thread pops
        self._pending: dict[str, _Call] = {}        # I/O thread only, from here on
        self._to_send: deque[_Call] = deque()
        self._unconfirmed: dict[int, _Call] = {}
        self._channel: Channel | None = None
        self._ready = False
        self._tag = 0
        self._failure: TransportError | None = None  # set during an outage
        self._closed = False
        self.replies_dropped = 0                    # late (after a timeout) or duplicate
        self.link = Link(settings, "client", self)
        self.link.start()

    @property
    def unconfirmed(self) -> int:
        """Requests published on the current channel that the broker has not confirmed."""
        return len(self._unconfirmed)

    # ------------------------------------------------------------------ any thread

    def submit(self, endpoint: str, method: str, params: dict[str, Any]) -> Future[Any]:
        try:
            body = json.dumps(request_message(method, params), separators=(",", ":"),
                              default=json_default,
                              allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise TransportError(f"{endpoint}.{method}: parameters are not JSON: {exc}") \
                from exc
        if self._closed:
            raise TransportError(f"{endpoint}.{method}: the amqp transport to "
                                 f"{self.settings.safe_url} is closed")
        call = _Call(endpoint, method, body, time.monotonic() + self.settings.rpc_timeout)
        failure = self._failure
        if failure is not None:
            _settle(call.future, error=_retryable(f"{call.name}: {failure}"))
            return call.future
        self._outbox.append(call)
        self.link.call(self._flush)
        return call.future

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        done = threading.Event()
        self.link.call(lambda: self._begin_close(done))
        done.wait(self.settings.connect_timeout)
        if self.link.close(self.settings.connect_timeout):
            # the I/O thread is gone: settle what it did not get to (submits racing close)
            left = list(self._outbox) + list(self._pending.values())
            self._outbox.clear()
            self._pending.clear()
            for call in left:
                _settle(call.future, error=TransportError(
                    f"{call.name}: the amqp transport was closed before the reply arrived"))

    # ------------------------------------------------------------------ I/O thread

    def _flush(self) -> None:
        now = time.monotonic()
        while self._outbox:
            call = self._outbox.popleft()
            if call.future.cancelled():
                continue
            if self._closed:
                _settle(call.future, error=TransportError(
                    f"{call.name}: the amqp transport was closed before it was sent"))
                continue
            if self._failure is not None:
                _settle(call.future, error=_retryable(f"{call.name}: {self._failure}"))
                continue
            self._pending[call.cid] = call
            call.timer = self.link.later(call.deadline - now,
                                         partial(self._expire, call.cid))
            self._to_send.append(call)
        self._send()

    def _send(self) -> None:
        while self._ready and self._to_send:
            call = self._to_send.popleft()
            if call.cid not in self._pending:
                continue  # timed out or failed while waiting to be sent
            if call.future.cancelled():
                self._forget(call)
                continue
            try:
                self._channel.basic_publish(  # type: ignore[union-attr]
                    "", self.settings.queue(call.endpoint), call.body,
                    pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                         correlation_id=call.cid, reply_to=self.reply_queue,
                                         type=call.method, app_id="occo"),
                    mandatory=True)
            except Exception as exc:  # the channel went away under us
                log.debug("publishing %s failed (%s); will retry", call.name, describe(exc))
                self._to_send.appendleft(call)
                self._lost()
                self.link.drop()
                return
            self._tag += 1
            self._unconfirmed[self._tag] = call

    def _forget(self, call: _Call) -> _Call:
        self._pending.pop(call.cid, None)
        if call.timer is not None:
            self.link.cancel(call.timer)
            call.timer = None
        return call

    def _fail(self, call: _Call, error: BaseException) -> None:
        self._forget(call)
        _settle(call.future, error=error)

    def _expire(self, cid: str) -> None:
        call = self._pending.get(cid)
        if call is None:
            return
        call.timer = None
        self._fail(call, CallTimeoutError(
            f"{call.name} did not answer within {self.settings.rpc_timeout:g} s "
            f"(rpc_timeout of the amqp transport to {self.settings.safe_url})"))

    # replies, confirms, returns

    def _on_reply(self, channel: Channel, deliver: Any, props: pika.BasicProperties,
                  body: bytes) -> None:
        try:
            call = self._pending.get(props.correlation_id or "")
            if call is None:
                self.replies_dropped += 1
                log.debug("dropped a reply to an unknown call %s (answered, timed out or "
                          "failed before)", props.correlation_id)
                return
            self._forget(call)
            self._complete(call, body)
        finally:
            channel.basic_ack(deliver.delivery_tag)

    def _complete(self, call: _Call, body: bytes) -> None:
        try:
            message = json.loads(body)
            check_schema(message)
        except (ValueError, TransportError) as exc:
            _settle(call.future, error=TransportError(
                f"{call.name}: the reply is not an OCCO message ({exc})"))
            return
        if "error" not in message:
            _settle(call.future, result=message.get("result"))
            return
        data = message["error"]
        if not isinstance(data, dict):
            _settle(call.future, error=TransportError(f"{call.name}: malformed error reply"))
        elif message.get("refused"):
            error = TransportError(str(data.get("text") or data.get("message")))
            error.retryable = bool(data.get("retryable"))  # type: ignore[attr-defined]
            _settle(call.future, error=error)
        else:
            _settle(call.future, error=RemoteError(data))

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        tags = list(itertools.takewhile(lambda t: t <= tag, self._unconfirmed)) \
            if method.multiple else [tag]
        nacked = isinstance(method, pika.spec.Basic.Nack)
        for t in tags:
            call = self._unconfirmed.pop(t, None)
            if nacked and call is not None and call.cid in self._pending:
                self._fail(call, _retryable(f"{call.name}: the broker at "
                                            f"{self.settings.safe_url} did not accept the "
                                            "request"))

    def _on_return(self, channel: Channel, method: Any, props: pika.BasicProperties,
                   body: bytes) -> None:
        call = self._pending.get(props.correlation_id or "")
        if call is None:
            return
        queue = self.settings.queue(call.endpoint)
        if method.reply_code == NO_ROUTE:
            error = TransportError(
                f"no endpoint {call.endpoint!r} is served over {self.settings.safe_url}: the "
                f"broker has no queue {queue!r} (start a worker for it, e.g. "
                f"`occo worker {call.endpoint}`)")
        else:
            error = TransportError(f"{call.name}: the broker returned the request "
                                   f"({method.reply_code} {method.reply_text})")
        self._fail(call, error)

    # connection life

    def link_up(self, connection: SelectConnection) -> None:
        if self._closed:
            return
        connection.channel(on_open_callback=guarded(self._channel_open))

    def _channel_open(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(guarded(self._channel_closed))
        channel.add_on_return_callback(guarded(self._on_return))
        # the reply queue outlives a dropped connection by more than the reconnect bound
        expires = int(1000 * max(2 * self.settings.reconnect_timeout,
                                 self.settings.reconnect_timeout + 60.0))
        channel.confirm_delivery(
            guarded(self._on_confirm),
            callback=lambda _: channel.queue_declare(
                self.reply_queue, durable=True, arguments={"x-expires": expires},
                callback=lambda _: channel.basic_consume(
                    self.reply_queue, guarded(self._on_reply),
                    callback=lambda _: self._consuming())))

    def _consuming(self) -> None:
        self._ready = True
        self._failure = None
        log.debug("amqp client ready: replies on %s", self.reply_queue)
        self._send()

    def _channel_closed(self, channel: Channel, reason: BaseException) -> None:
        if channel is not self._channel:
            return
        self._lost()
        if not self._closed and isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            log.warning("the broker closed the amqp client's channel (%s); reconnecting",
                        describe(reason))
            self.link.drop()

    def _lost(self) -> None:
        """The channel is gone: what it had not confirmed is sent again later, in order."""
        self._ready = False
        self._channel = None
        resend = [c for c in self._unconfirmed.values() if c.cid in self._pending]
        self._unconfirmed.clear()
        self._tag = 0
        self._to_send.extendleft(reversed(resend))

    def link_down(self, reason: str) -> None:
        self._lost()

    def link_outage(self, error: TransportError) -> None:
        self._failure = error
        self._to_send.clear()
        for call in list(self._pending.values()):
            self._fail(call, _retryable(f"{call.name}: {error}"))

    def _begin_close(self, done: threading.Event) -> None:
        for call in list(self._pending.values()):
            self._fail(call, TransportError(f"{call.name}: the amqp transport was closed "
                                            "before the reply arrived"))
        self._to_send.clear()
        channel = self._channel
        if channel is None or not channel.is_open:
            done.set()
            return
        self._ready = False
        try:
            channel.queue_delete(self.reply_queue, callback=lambda _: done.set())
        except Exception:
            done.set()


class AmqpClient(Client):
    """Calls one endpoint over the amqp transport."""

    def __init__(self, rpc: RpcClient, endpoint: str) -> None:
        self._rpc = rpc
        self.endpoint = endpoint

    def submit(self, method: str, **params: Any) -> Future[Any]:
        return self._rpc.submit(self.endpoint, method, params)

    def call(self, method: str, *, timeout: float | None = None, **params: Any) -> Any:
        if self._rpc.link.in_io_thread:
            raise TransportError(f"{self.endpoint}.{method}: call() from a done-callback of "
                                 "another call would wait for ever; use submit()")
        return super().call(method, timeout=timeout, **params)
