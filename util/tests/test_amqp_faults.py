"""Faults of the amqp transport, against the real RabbitMQ (never stopped: a TCP proxy
written here stands between the transport and the broker, and is cut instead):
dropped connections, a broker that stays away, workers killed with SIGKILL mid-request,
and a request that kills every worker it reaches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from amqp_support import AMQP_URL

from occo.util import TransportError
from occo.util.comm import AmqpTransport
from occo.util.ratelimit import Backoff
from occo.util.testing import wait_until

FAST = Backoff(base=0.05, factor=2.0, cap=0.5)
WORKER = Path(__file__).with_name("amqp_worker.py")


class Held:
    RPC_METHODS = ("hold", "add")

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.calls = 0

    def hold(self) -> str:
        self.calls += 1
        self.entered.release()
        self.release.wait(20)
        return "released"

    def add(self, a: int, b: int) -> int:
        return a + b


@pytest.fixture
def transports(queues):
    made: list[AmqpTransport] = []

    def make(url: str = AMQP_URL, **kw) -> AmqpTransport:
        kw.setdefault("rpc_timeout", 30)
        kw.setdefault("reconnect_timeout", 15)
        t = AmqpTransport(url, prefix=queues.prefix, backoff=FAST, **kw)
        made.append(t)
        return t

    yield make
    for t in made:
        queues.forget_after(t)
        t.close()


def test_a_dropped_connection_is_reopened_and_work_carries_on(transports, queues, proxy):
    queues.names("calc")
    transports(proxy.url(AMQP_URL)).serve("calc", Held())
    client = transports(proxy.url(AMQP_URL)).client("calc")
    assert client.call("add", a=1, b=2, timeout=10) == 3
    assert proxy.cut() == 2  # the server's and the client's connections
    futures = [client.submit("add", a=i, b=1) for i in range(20)]
    assert [f.result(20) for f in futures] == [i + 1 for i in range(20)]
    assert proxy.accepted >= 4


def test_a_call_in_flight_when_the_connection_drops_is_answered_once(transports, queues,
                                                                     proxy):
    queues.names("calc")
    held = Held()
    transports(proxy.url(AMQP_URL)).serve("calc", held, concurrency=2)
    client = transports(proxy.url(AMQP_URL)).client("calc")
    future = client.submit("hold")
    assert held.entered.acquire(timeout=10)
    wait_until(lambda: client._rpc.unconfirmed == 0, what="the broker's confirm")
    proxy.cut()
    # the unacknowledged request comes back to the (reconnected) worker and runs again
    assert held.entered.acquire(timeout=20)
    held.release.set()
    assert future.result(20) == "released"
    assert held.calls == 2
    # both runs answered; the caller got one result and the other reply was dropped
    wait_until(lambda: client._rpc.replies_dropped == 1, what="the second reply")
    assert client.call("add", a=2, b=2, timeout=10) == 4


def test_a_reply_waits_for_a_client_whose_connection_is_down(transports, queues, proxy,
                                                            broker):
    queues.names("calc")
    held = Held()
    transports().serve("calc", held)  # the worker stays connected directly
    client = transports(proxy.url(AMQP_URL)).client("calc")
    future = client.submit("hold")
    assert held.entered.acquire(timeout=10)
    wait_until(lambda: client._rpc.unconfirmed == 0, what="the broker's confirm")
    proxy.refuse()
    proxy.cut()
    held.release.set()
    reply_queue = client._rpc.reply_queue
    wait_until(lambda: broker.count(reply_queue) == 1, what="the reply in the reply queue")
    assert not future.done()
    proxy.refuse(False)
    assert future.result(20) == "released"
    assert held.calls == 1


def test_a_request_unconfirmed_when_the_connection_drops_is_sent_again(transports, queues,
                                                                       proxy):
    queues.names("calc")
    held = Held()
    transports().serve("calc", held, concurrency=2)  # the worker stays connected directly
    client = transports(proxy.url(AMQP_URL)).client("calc")
    assert client.call("add", a=1, b=1, timeout=10) == 2
    proxy.hold()  # the broker's confirm (and anything else) no longer reaches the client
    future = client.submit("hold")
    assert held.entered.acquire(timeout=10)  # the request did reach the queue
    assert client._rpc.unconfirmed == 1
    proxy.cut()
    # not knowing, the client publishes it again after reconnecting: it runs twice,
    # and its caller sees one answer
    assert held.entered.acquire(timeout=20)
    held.release.set()
    assert future.result(20) == "released"
    wait_until(lambda: client._rpc.replies_dropped == 1, what="the second reply")
    assert held.calls == 2


def test_a_broker_away_too_long_fails_calls_clearly_then_recovers(transports, queues, proxy):
    queues.names("calc")
    held = Held()
    transports().serve("calc", held)
    client = transports(proxy.url(AMQP_URL), reconnect_timeout=0.5).client("calc")
    assert client.call("add", a=1, b=1, timeout=10) == 2
    waiting = client.submit("hold")
    assert held.entered.acquire(timeout=10)
    proxy.refuse()
    proxy.cut()
    error = waiting.exception(timeout=10)
    assert isinstance(error, TransportError) and error.retryable
    assert "calc.hold: the AMQP broker at amqp://guest@127.0.0.1:" in str(error)
    assert "has been unreachable for" in str(error) and ":guest@" not in str(error)
    refused = client.submit("add", a=1, b=1).exception(timeout=5)
    assert isinstance(refused, TransportError) and "unreachable" in str(refused)
    proxy.refuse(False)
    held.release.set()

    def answers() -> bool:
        return client.submit("add", a=2, b=3).exception(timeout=10) is None
    wait_until(answers, timeout=20, interval=0.1, what="the client to recover")


class Worker:
    """An ``amqp_worker.py`` subprocess serving ``calc``."""

    def __init__(self, queues, markers: Path, max_redeliveries: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), AMQP_URL, queues.prefix, "calc",
             str(max_redeliveries), str(markers)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid

    def wait_ready(self) -> Worker:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(30)
        if not line or not line[0].startswith("ready"):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"worker did not start: {err}")
        return self

    def stop(self) -> None:
        if self.proc.returncode is None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def workers(queues, tmp_path):
    started: list[Worker] = []

    def start(max_redeliveries: int = 3, ready: bool = True) -> Worker:
        queues.names("calc")
        w = Worker(queues, tmp_path, max_redeliveries)
        started.append(w)
        return w.wait_ready() if ready else w

    yield start
    for w in started:
        w.stop()


def test_a_request_of_a_killed_worker_goes_to_another_worker(transports, workers, tmp_path):
    first = workers()
    client = transports().client("calc")
    future = client.submit("slow", tag="job")
    wait_until(lambda: (tmp_path / f"job.{first.pid}").exists(), what="the first worker")
    second = workers()
    os.kill(first.pid, signal.SIGKILL)
    assert first.proc.wait(10) == -signal.SIGKILL
    assert future.result(30) == {"pid": second.pid, "before": [first.pid]}
    assert client.call("whoami", timeout=10) == second.pid


def test_a_request_that_kills_every_worker_ends_in_the_dead_letter_queue(
        transports, workers, queues, broker, tmp_path):
    _, dead = queues.names("calc")
    client = transports(max_redeliveries=1).client("calc")
    crashed = []
    for _ in range(2):  # max_redeliveries=1: two deliveries, two dead workers
        # the second one may get the request (and die) before it can say it is ready
        worker = workers(max_redeliveries=1, ready=not crashed)
        if not crashed:
            future = client.submit("crash", tag="poison")
        assert worker.proc.wait(20) == -signal.SIGKILL
        crashed.append(worker.pid)
    assert sorted(int(p.suffix[1:]) for p in tmp_path.glob("poison.*")) == sorted(crashed)
    _, props, body = wait_until(lambda: broker.get(dead), what="the dead letter")
    assert props.headers["x-first-death-reason"] == "delivery_limit"
    assert b'"method":"crash"' in body
    survivor = workers(max_redeliveries=1)
    assert client.call("whoami", timeout=10) == survivor.pid
    assert survivor.proc.poll() is None
    assert not future.done()  # nobody answered it; its rpc_timeout will end it
