"""The call pipeline alone, with a client whose calls finish when the test says."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from occo.infraprocessor._calls import CallPipeline, results_of
from occo.util import TransportError
from occo.util.comm import (
    CallError,
    Client,
    CloudHandlerEndpoint,
    Created,
    NodeStatus,
    ResourceState,
)


class HeldClient(Client):
    """Calls stay out until the test finishes their futures."""

    endpoint = "cloudhandler"

    def __init__(self, refuse: bool = False) -> None:
        self.sent: list[tuple[str, dict, Future]] = []
        self.refuse = refuse

    def submit(self, method, **params):
        if self.refuse:
            raise ConnectionError("the broker is away")
        future: Future = Future()
        self.sent.append((method, params, future))
        return future


def test_handlers_run_on_the_taking_thread_in_the_order_calls_finished():
    client, pipeline, seen = HeldClient(), CallPipeline(), []
    for n in range(3):
        pipeline.submit(client, CloudHandlerEndpoint.get_states,
                        lambda f, n=n: seen.append((n, f.result())), refs=[n])
    assert [m for m, _, _ in client.sent] == ["get_states"] * 3
    assert pipeline.outstanding == 3
    pipeline.take(0)
    assert seen == []          # nothing finished: nothing handled, no wait
    client.sent[2][2].set_result({"c": {"state": "running"}})
    client.sent[0][2].set_result({"a": {"state": "failed", "detail": "no host"}})
    pipeline.take(0)
    # the handlers get the result type the protocol names, decoded from the JSON reply
    assert seen == [(2, {"c": NodeStatus(ResourceState.RUNNING)}),
                    (0, {"a": NodeStatus(ResourceState.FAILED, detail="no host")})]
    assert pipeline.outstanding == 1
    client.sent[1][2].set_result({"b": {"state": "a state of a newer release"}})
    pipeline.take(5)
    assert seen[-1] == (1, {"b": NodeStatus(ResourceState.UNKNOWN)})
    assert pipeline.outstanding == 0


def test_a_reply_that_is_not_the_result_type_fails_its_call_naming_the_method():
    client, pipeline, got = HeldClient(), CallPipeline(), []
    pipeline.submit(client, CloudHandlerEndpoint.get_states, got.append, refs=[])
    pipeline.submit(client, CloudHandlerEndpoint.create_nodes, got.append, specs=[])
    client.sent[0][2].set_result(["not", "a", "mapping"])
    client.sent[1][2].set_result([{"ref": "not a mapping"}])
    pipeline.take(0)
    errors = [f.exception() for f in got]
    assert all(isinstance(e, TransportError) for e in errors)
    assert str(errors[0]).startswith(
        "the reply to get_states is not a dict[str, NodeStatus]: AttributeError")
    assert str(errors[1]).startswith("the reply to create_nodes is not a list[Created]")


def test_a_call_refused_at_once_reaches_its_handler_as_a_failed_future():
    pipeline, got = CallPipeline(), []
    pipeline.submit(HeldClient(refuse=True), CloudHandlerEndpoint.create_nodes, got.append,
                    specs=[])
    pipeline.take(0)
    assert len(got) == 1 and isinstance(got[0].exception(), ConnectionError)
    assert results_of(got[0], 2, lambda e: Created(error=e)) == [Created(error=CallError(
        type="ConnectionError", message="the broker is away", text="the broker is away",
        retryable=False, exit_code=1, details={}))] * 2


def test_only_protocol_methods_can_be_submitted():
    with pytest.raises(TypeError, match="not a method of an endpoint protocol"):
        CallPipeline().submit(HeldClient(), print, print)


def test_drain_hands_over_what_finishes_and_passes_over_a_failing_handler():
    client, pipeline, seen = HeldClient(), CallPipeline(), []

    def broken(future):
        raise RuntimeError("the store is gone")

    pipeline.submit(client, CloudHandlerEndpoint.create_nodes, broken, specs=[])
    pipeline.submit(client, CloudHandlerEndpoint.create_nodes, seen.append, specs=[])
    for _, _, future in client.sent:
        future.set_result([{"ref": {"instance_id": "x"}}])
    pipeline.drain(5)
    assert pipeline.outstanding == 0
    assert results_of(seen[0], 1, lambda e: Created(error=e)) == [
        Created(ref={"instance_id": "x"})]
