"""The endpoint contract: every transport passes these, in-process and over RabbitMQ."""

from __future__ import annotations

import threading

import pytest
from amqp_support import AMQP_URL

from occo.util import CallTimeoutError, InputError, Location, TransportError
from occo.util.comm import AmqpTransport, InProcessTransport, RemoteError


class Calculator:
    RPC_METHODS = ("add", "fail", "wait", "echo", "bad_input")

    def __init__(self) -> None:
        self.release = threading.Event()

    def add(self, a: int, b: int) -> int:
        return a + b

    def echo(self, value):
        return value

    def fail(self, retryable: bool = False):
        exc = RuntimeError("the cloud said no")
        exc.retryable = retryable
        raise exc

    def bad_input(self):
        raise InputError("must be an integer", location=Location("infra.yaml", 3, 7, "nodes[0]"))

    def wait(self) -> str:
        self.release.wait(5)
        return "released"

    def hidden(self):  # not listed: must not be callable remotely
        return "secret"


@pytest.fixture(params=["inprocess", "amqp"])
def transport(request):
    if request.param == "inprocess":
        t = InProcessTransport(check_json=True)
    else:
        queues = request.getfixturevalue("queues")  # RabbitMQ, a prefix, clean-up
        t = AmqpTransport(AMQP_URL, prefix=queues.prefix, rpc_timeout=30,
                          reconnect_timeout=10)
    yield t
    if request.param == "amqp":
        queues.forget_after(t)
    t.close()


@pytest.fixture
def calc(transport):
    handler = Calculator()
    transport.serve("calc", handler, concurrency=4)
    yield transport.client("calc"), handler
    handler.release.set()


def test_call_returns_the_result(calc):
    client, _ = calc
    assert client.call("add", a=2, b=3, timeout=5) == 5
    assert client.call("echo", value={"k": [1, "x", None]}, timeout=5) == {"k": [1, "x", None]}


def test_submit_runs_calls_concurrently(calc):
    client, _ = calc
    futures = [client.submit("add", a=i, b=i) for i in range(50)]
    assert [f.result(5) for f in futures] == [2 * i for i in range(50)]


def test_errors_come_back_as_data(calc):
    client, _ = calc
    with pytest.raises(RemoteError) as err:
        client.call("fail", retryable=True, timeout=5)
    assert err.value.kind == "RuntimeError" and err.value.retryable
    assert "the cloud said no" in str(err.value)
    with pytest.raises(RemoteError) as err:
        client.call("bad_input", timeout=5)
    assert err.value.exit_code == 2 and err.value.kind == "InputError"
    assert err.value.details["line"] == 3 and err.value.details["path"] == "nodes[0]"


def test_a_call_that_takes_too_long_times_out(calc):
    client, handler = calc
    with pytest.raises(CallTimeoutError, match=r"calc.wait did not answer within 0.2 s"):
        client.call("wait", timeout=0.2)
    handler.release.set()


def test_only_listed_methods_are_callable(calc):
    client, _ = calc
    with pytest.raises(TransportError, match="has no method 'hidden'"):
        client.call("hidden", timeout=5)


def test_messages_must_be_json(calc):
    client, _ = calc
    with pytest.raises(TransportError, match="calc.echo: parameters are not JSON"):
        client.call("echo", value={1, 2}, timeout=5)


def test_results_must_be_json(transport):
    class Sets:
        RPC_METHODS = ("give",)

        def give(self):
            return {1, 2}

    transport.serve("sets", Sets())
    with pytest.raises(RemoteError, match="not JSON serializable"):
        transport.client("sets").call("give", timeout=5)


def test_unknown_endpoint_is_a_clear_error(transport):
    with pytest.raises(TransportError, match="no endpoint 'nobody' is served"):
        transport.client("nobody").call("x", timeout=1)
