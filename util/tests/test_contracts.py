"""The endpoint protocols and their typed clients, over the real in-process transport."""

from __future__ import annotations

import threading

import pytest

from occo.util import CallTimeoutError
from occo.util.comm import (
    PROTOCOLS,
    CloudHandlerEndpoint,
    InProcessTransport,
    ProcessorEndpoint,
    ServiceComposerEndpoint,
    cloud_client,
    method_name,
    methods_of,
    processor_client,
    submit,
)


class FakeProcessor:
    """Serves the infraprocessor protocol; records what reached it."""

    RPC_METHODS = methods_of(ProcessorEndpoint)

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.release = threading.Event()
        self.release.set()

    def execute(self, infra_id, instructions, keep_on_failure=False, request_id=None):
        self.calls.append(("execute", {"infra_id": infra_id, "instructions": instructions,
                                       "keep_on_failure": keep_on_failure,
                                       "request_id": request_id}))
        return {"infra_id": infra_id, "status": "ready"}

    def cancel(self, infra_id):
        self.release.wait(10)
        self.calls.append(("cancel", {"infra_id": infra_id}))
        return True


@pytest.fixture
def served():
    transport = InProcessTransport()
    handler = FakeProcessor()
    transport.serve("infraprocessor", handler)
    yield transport, handler
    handler.release.set()
    transport.close()


def test_every_endpoint_has_a_protocol_with_its_methods_in_order():
    assert set(PROTOCOLS) == {"infraprocessor", "cloudhandler", "servicecomposer"}
    assert methods_of(ProcessorEndpoint) == ("execute", "cancel")
    assert methods_of(ServiceComposerEndpoint) == ("resolve", "resolve_many", "check_health",
                                                   "config_ready", "config_managers")
    assert {"create_nodes", "drop_nodes", "get_states", "watch_states", "get_addresses",
            "list_nodes", "limits", "backends", "preflight"} <= set(
        methods_of(CloudHandlerEndpoint))


def test_a_typed_client_calls_the_method_of_its_name_with_named_arguments(served):
    transport, handler = served
    processor = processor_client(transport.client("infraprocessor"), timeout=10)
    assert processor.execute("i-1", [], request_id="r") == {"infra_id": "i-1",
                                                            "status": "ready"}
    assert handler.calls == [("execute", {"infra_id": "i-1", "instructions": [],
                                          "keep_on_failure": False, "request_id": "r"})]
    assert repr(processor) == "<ProcessorEndpoint client of infraprocessor>"


def test_a_wrong_argument_fails_before_anything_is_sent(served):
    transport, handler = served
    processor = processor_client(transport.client("infraprocessor"), timeout=10)
    with pytest.raises(TypeError, match="unexpected keyword argument 'infra'"):
        processor.cancel("i-1", infra="i-1")
    with pytest.raises(TypeError, match="missing a required argument: 'infra_id'"):
        processor.cancel()
    assert handler.calls == []


def test_a_typed_client_waits_at_most_its_timeout(served):
    transport, handler = served
    handler.release.clear()
    processor = processor_client(transport.client("infraprocessor"), timeout=0.1)
    with pytest.raises(CallTimeoutError, match=r"infraprocessor\.cancel did not answer "
                                               r"within 0\.1 s"):
        processor.cancel("i-1")


def test_submit_takes_a_protocol_method_and_returns_the_future(served):
    transport, handler = served
    future = submit(transport.client("infraprocessor"), ProcessorEndpoint.cancel,
                    infra_id="i-2")
    assert future.result(10) is True and handler.calls == [("cancel", {"infra_id": "i-2"})]


def test_only_protocol_methods_name_an_endpoint_method():
    assert method_name(CloudHandlerEndpoint.get_states) == "get_states"

    class Lookalike:
        def get_states(self): ...

    for wrong in (Lookalike.get_states, print, lambda: None):
        with pytest.raises(TypeError, match="is not a method of an endpoint protocol"):
            method_name(wrong)


def test_a_handler_missing_a_protocol_method_is_not_that_endpoint():
    assert isinstance(FakeProcessor(), ProcessorEndpoint)
    assert not isinstance(FakeProcessor(), CloudHandlerEndpoint)


def test_a_cloud_client_names_the_cloud_endpoints_methods(served):
    transport, _ = served
    cloud = cloud_client(transport.client("cloudhandler"), timeout=1)
    assert [m for m in methods_of(CloudHandlerEndpoint) if callable(getattr(cloud, m))] == \
        list(methods_of(CloudHandlerEndpoint))
    with pytest.raises(AttributeError):
        cloud.create_nodez  # noqa: B018 (the misspelling is the test)
