"""The amqp transport against the real RabbitMQ: wire format, queues, prefetch, timeouts,
dead-lettering, clean-up. (Broker faults and killed workers: test_amqp_faults.py.)"""

from __future__ import annotations

import json
import logging
import socket
import threading
from concurrent.futures import Future

import pika
import pytest
from amqp_support import AMQP_URL

from occo.util import CallTimeoutError, TransportError
from occo.util.comm import AmqpTransport, RemoteError
from occo.util.testing import wait_until


def amqp(queues, **kw) -> AmqpTransport:
    kw.setdefault("rpc_timeout", 20)
    kw.setdefault("reconnect_timeout", 10)
    return AmqpTransport(AMQP_URL, prefix=queues.prefix, **kw)


class Gate:
    """A handler whose ``hold`` calls wait for a release, counting how many run at once."""

    RPC_METHODS = ("hold", "add")

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0

    def hold(self, n: int = 0) -> int:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            self.release.wait(20)
            return n
        finally:
            with self.lock:
                self.running -= 1

    def add(self, a: int, b: int) -> int:
        return a + b


@pytest.fixture
def transports(queues):
    made: list[AmqpTransport] = []

    def make(**kw) -> AmqpTransport:
        t = amqp(queues, **kw)
        made.append(t)
        return t

    yield make
    for t in made:
        queues.forget_after(t)
        t.close()


def test_requests_are_persistent_json_with_a_schema_version(transports, queues, broker):
    """What a client puts on the wire, and how it takes replies (once each)."""
    queue, _ = queues.names("raw")
    broker.channel.queue_declare(queue, durable=True)
    client = transports(rpc_timeout=20).client("raw")
    future = client.submit("create_node", spec={"id": "i-1", "tags": ["a", "b"]})
    method, props, body = wait_until(lambda: broker.get(queue), what="the request")
    assert json.loads(body) == {"schema": 1, "method": "create_node",
                                "params": {"spec": {"id": "i-1", "tags": ["a", "b"]}}}
    assert props.content_type == "application/json" and props.delivery_mode == 2
    assert props.correlation_id and props.reply_to.startswith(f"{queues.prefix}.reply.")
    reply = {"schema": 1, "result": {"ref": "r-1"}}
    for answer in (reply, {"schema": 1, "result": "a duplicate"}):
        broker.publish(props.reply_to, json.dumps(answer).encode(),
                       correlation_id=props.correlation_id, content_type="application/json")
    assert future.result(10) == {"ref": "r-1"}
    rpc = client._rpc
    wait_until(lambda: rpc.replies_dropped == 1, what="the duplicate reply to be dropped")

    future = client.submit("create_node", spec={})
    _, props, _ = wait_until(lambda: broker.get(queue), what="the second request")
    broker.publish(props.reply_to, b'{"schema": 7, "result": 1}',
                   correlation_id=props.correlation_id)
    with pytest.raises(TransportError, match="message schema 7 is not supported"):
        future.result(10)


def test_endpoint_queues_are_durable_quorum_queues_with_a_dead_letter_queue(
        transports, queues, broker):
    queue, dead = queues.names("calc")
    transports(max_redeliveries=4).serve("calc", Gate())
    # declaring with the documented arguments is accepted: they are the queue's arguments
    broker.channel.queue_declare(queue, durable=True, arguments={
        "x-queue-type": "quorum", "x-delivery-limit": 4, "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead})
    broker.channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        broker.channel.queue_declare(queue, durable=True, arguments={
            "x-queue-type": "quorum", "x-delivery-limit": 5})
    assert err.value.reply_code == 406


def test_workers_must_agree_on_max_redeliveries(transports, queues):
    queues.names("calc")
    transports(max_redeliveries=3).serve("calc", Gate())
    with pytest.raises(TransportError) as err:
        transports(max_redeliveries=5).serve("calc", Gate())
    text = str(err.value)
    assert "cannot serve 'calc': the broker at amqp://guest@" in text
    assert "406 precondition failed" in text and "same max_redeliveries" in text


def test_prefetch_limits_what_a_worker_holds(transports, queues, broker):
    queue, _ = queues.names("calc")
    gate = Gate()
    server = transports()
    server.serve("calc", gate, concurrency=2)
    client = transports().client("calc")
    futures = [client.submit("hold", n=i) for i in range(6)]
    wait_until(lambda: gate.running == 2 and broker.count(queue) == 4,
               what="2 requests running and 4 waiting in the queue")
    gate.release.set()
    assert sorted(f.result(10) for f in futures) == list(range(6))
    assert gate.most == 2


def test_workers_share_an_endpoint(transports, queues):
    queues.names("calc")
    barrier = threading.Barrier(2, timeout=15)

    class Meet:
        RPC_METHODS = ("meet",)

        def __init__(self, name: str) -> None:
            self.name = name

        def meet(self) -> str:
            barrier.wait()  # passes only when both workers hold a request at once
            return self.name

    transports().serve("calc", Meet("one"), concurrency=1)
    transports().serve("calc", Meet("two"), concurrency=1)
    client = transports().client("calc")
    futures = [client.submit("meet") for _ in range(2)]
    assert sorted(f.result(20) for f in futures) == ["one", "two"]


def test_every_call_has_a_timeout_and_a_late_reply_is_dropped(transports, queues):
    queues.names("calc")
    gate = Gate()
    server = transports()
    server.serve("calc", gate)
    client = transports(rpc_timeout=0.3).client("calc")
    future = client.submit("hold", n=1)  # no timeout given by the caller
    error = future.exception(timeout=10)
    assert isinstance(error, CallTimeoutError)
    assert str(error).startswith("calc.hold did not answer within 0.3 s (rpc_timeout")
    gate.release.set()
    wait_until(lambda: client._rpc.replies_dropped == 1, what="the late reply")
    assert client.call("add", a=1, b=1, timeout=10) == 2


def test_a_crashing_handler_is_retried_then_dead_lettered(transports, queues, broker):
    _, dead = queues.names("calc")

    class Crash(BaseException):
        pass

    class Crasher:
        RPC_METHODS = ("crash", "add")
        calls = 0

        def crash(self) -> None:
            Crasher.calls += 1
            raise Crash("the worker's interpreter is going down")

        def add(self, a: int, b: int) -> int:
            return a + b

    transports(max_redeliveries=2).serve("calc", Crasher(), concurrency=1)
    client = transports(max_redeliveries=2).client("calc")
    with pytest.raises(TransportError) as err:
        client.call("crash", timeout=20)
    assert "the handler of crash crashed (Crash: the worker's interpreter is going down)" \
        in str(err.value)
    assert f"after 3 deliveries the request was moved to the dead-letter queue '{dead}'" \
        in str(err.value)
    assert Crasher.calls == 3
    method, props, body = wait_until(lambda: broker.get(dead), what="the dead letter")
    assert json.loads(body)["method"] == "crash"
    assert props.headers["x-first-death-reason"] == "rejected"
    assert client.call("add", a=2, b=2, timeout=10) == 4  # the worker carries on


@pytest.mark.parametrize("body, why", [
    (b"\x80 not json", "the request cannot be read: "),
    (b'{"schema": 99, "method": "add", "params": {}}', "message schema 99 is not supported"),
    (b'{"schema": 1, "params": {}}', "the request names no method"),
])
def test_unreadable_requests_end_in_the_dead_letter_queue(transports, queues, broker,
                                                          body, why):
    queue, dead = queues.names("calc")
    transports(max_redeliveries=1).serve("calc", Gate())
    reply_to = broker.declare_reply_queue()
    broker.publish(queue, body, reply_to=reply_to, correlation_id="c-1", delivery_mode=2)
    _, props, reply = wait_until(lambda: broker.get(reply_to), what="the refusal")
    message = json.loads(reply)
    assert props.correlation_id == "c-1" and message["refused"] is True
    assert why in message["error"]["text"]
    assert f"after 2 deliveries the request was moved to the dead-letter queue '{dead}'" \
        in message["error"]["text"]
    _, props, dead_body = wait_until(lambda: broker.get(dead), what="the dead letter")
    assert dead_body == body and props.headers["x-first-death-queue"] == queue


def test_handler_errors_are_answers_not_redeliveries(transports, queues, broker):
    _, dead = queues.names("calc")

    class Failing:
        RPC_METHODS = ("fail",)
        calls = 0

        def fail(self) -> None:
            Failing.calls += 1
            raise ValueError("bad value")

    transports(max_redeliveries=1).serve("calc", Failing())
    client = transports().client("calc")
    with pytest.raises(RemoteError, match="bad value"):
        client.call("fail", timeout=10)
    assert Failing.calls == 1 and broker.count(dead) == 0


def test_close_deletes_the_reply_queue_and_fails_waiting_calls(transports, queues, broker):
    queue, dead = queues.names("calc")
    gate = Gate()
    server = transports()
    server.serve("calc", gate)
    caller = transports()
    client = caller.client("calc")
    assert client.call("add", a=1, b=2, timeout=10) == 3
    reply_queue = client._rpc.reply_queue
    assert broker.exists(reply_queue)
    waiting = client.submit("hold")
    wait_until(lambda: gate.running == 1, what="the call to run")
    caller.close()
    with pytest.raises(TransportError, match="closed before the reply arrived"):
        waiting.result(5)
    assert not broker.exists(reply_queue)
    assert broker.exists(queue) and broker.exists(dead)  # durable, shared with others
    with pytest.raises(TransportError, match="is closed"):
        client.submit("add", a=1, b=2)
    gate.release.set()


def test_an_endpoint_is_served_once_per_transport(transports, queues):
    queues.names("calc")
    t = transports()
    t.serve("calc", Gate())
    with pytest.raises(TransportError, match="'calc' is already served by this transport"):
        t.serve("calc", Gate())
    with pytest.raises(TransportError, match="concurrency must be an integer >= 1, got 0"):
        t.serve("other", Gate(), concurrency=0)


def test_done_callbacks_may_submit_but_not_wait(transports, queues):
    queues.names("calc")
    transports().serve("calc", Gate())
    client = transports().client("calc")
    outcome: Future = Future()

    def chain(first: Future) -> None:
        try:
            client.call("add", a=first.result(), b=1, timeout=5)
        except TransportError as exc:
            refusal = str(exc)
            follow = client.submit("add", a=first.result(), b=1)
            follow.add_done_callback(lambda f: outcome.set_result((refusal, f.result())))

    client.submit("add", a=1, b=1).add_done_callback(chain)
    refusal, value = outcome.result(10)
    assert "call() from a done-callback of another call would wait for ever" in refusal
    assert value == 3


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_broker_fails_calls_without_showing_the_password(caplog):
    port = _closed_port()
    password = "pw-never-shown-4711"
    t = AmqpTransport(f"amqp://occo:{password}@127.0.0.1:{port}/%2F", prefix="occotest-none",
                      rpc_timeout=30, reconnect_timeout=0.5, connect_timeout=1)
    caplog.set_level(logging.DEBUG, logger="occo.util.comm")
    try:
        future = t.client("calc").submit("add", a=1, b=2)
        error = future.exception(timeout=10)
        assert isinstance(error, TransportError) and error.retryable
        assert f"calc.add: the AMQP broker at amqp://occo@127.0.0.1:{port}/%2F has been " \
               "unreachable for" in str(error)
        again = t.client("calc").submit("add", a=1, b=2)  # fails at once during the outage
        assert isinstance(again.exception(timeout=1), TransportError)
        with pytest.raises(TransportError, match=f"cannot serve 'calc': the AMQP broker at "
                                                 f"amqp://occo@127.0.0.1:{port}/%2F"):
            t.serve("calc", Gate())
        assert password not in str(error) and password not in repr(t)
        assert "unreachable" in caplog.text and password not in caplog.text
    finally:
        t.close()


def test_wrong_credentials_are_reported_without_the_password(broker):
    password = "wrong-pw-0815"
    url = AMQP_URL.replace("guest:guest@", f"guest:{password}@")
    t = AmqpTransport(url, prefix="occotest-none", reconnect_timeout=0.5)
    try:
        with pytest.raises(TransportError) as err:
            t.serve("calc", Gate())
    finally:
        t.close()
    assert "refused the credentials (ACCESS_REFUSED)" in str(err.value)
    assert password not in str(err.value)
