"""The endpoints' typed results and their one JSON codec (occo.util.comm.messages): each
message survives JSON, a typed client gives the caller the type whichever transport
carried the reply (in-process, in-process through JSON, the real RabbitMQ), and a reply
of another shape fails the call naming the method."""

from __future__ import annotations

import json

import pytest
from amqp_support import AMQP_URL

from occo.util import NodeSpec, TransportError
from occo.util.comm import (
    AmqpTransport,
    CallError,
    CloudHandlerEndpoint,
    Created,
    Dropped,
    Health,
    InProcessTransport,
    NodeAddresses,
    NodeStatus,
    Resolved,
    ResourceState,
    ServiceComposerEndpoint,
    call,
    cloud_client,
    composer_client,
    encode_error,
    json_default,
    methods_of,
    result_decoder,
    submit,
)

SPEC = NodeSpec(instance_id="i-1", infra_id="inf", node_name="db", node_type="db_t",
                resource={"type": "dummy"}, context={"type": "basic", "attributes": {}},
                tags={"team": "a"})
BROKE = CallError.from_json(encode_error(ValueError("no such flavor 'x9'")))

MESSAGES = [
    NodeStatus(ResourceState.FAILED, detail="NoValidHost", raw="ERROR", exit_code=3),
    NodeStatus(ResourceState.RUNNING),
    NodeAddresses(("192.0.2.7",), ("10.0.0.7",), checkable=False),
    Created(ref={"instance_id": "i-1", "type": "dummy"}), Created(error=BROKE),
    Dropped(), Dropped(error=BROKE),
    Resolved(spec=SPEC, used={"getip('db')": "10.0.0.5"}), Resolved(error=BROKE),
    Health(healthy=True, detail="port 22 open"), Health(healthy=False, error=BROKE),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_is_the_same_after_json(message):
    wire = json.loads(json.dumps(message, default=json_default))
    assert type(message).from_json(wire) == message


def test_what_an_older_or_newer_peer_may_send_is_read_safely():
    assert NodeStatus.from_json({"state": "hibernating"}).state == ResourceState.UNKNOWN
    assert NodeStatus.from_json({}).state == ResourceState.UNKNOWN
    assert NodeAddresses.from_json({}) == NodeAddresses(())
    assert NodeAddresses(("1.2.3.4",)).to_json()["private_addresses"] == ["1.2.3.4"]
    assert CallError.from_json({"message": "m"}).said == "m"
    assert CallError.from_json({"message": "m", "text": "whole"}).said == "whole"
    assert Dropped.from_json({}).error is None


def test_a_secret_in_a_detail_does_not_reach_the_wire():
    from occo.util import forget_secrets, register_secret
    register_secret("pa55-w0rd-of-the-cloud")
    try:
        text = json.dumps(NodeStatus(ResourceState.FAILED,
                                     detail="login pa55-w0rd-of-the-cloud refused"),
                          default=json_default)
    finally:
        forget_secrets()
    assert "pa55" not in text


def test_the_protocols_name_the_result_types():
    decoded = {name: result_decoder(getattr(CloudHandlerEndpoint, name)) is not None
               for name in methods_of(CloudHandlerEndpoint)}
    assert {n for n, typed in decoded.items() if typed} == {
        "create_nodes", "drop_nodes", "get_states", "watch_states", "get_addresses"}
    assert result_decoder(ServiceComposerEndpoint.resolve_many) is not None
    assert result_decoder(ServiceComposerEndpoint.check_health) is not None
    assert result_decoder(CloudHandlerEndpoint.limits) is None      # plain JSON


class JsonCloud:
    """Answers as a cloud handler on another machine does: with the JSON forms."""

    RPC_METHODS = methods_of(CloudHandlerEndpoint)

    def __init__(self) -> None:
        self.specs: list = []

    def create_nodes(self, specs):
        # a spec arrives as a NodeSpec in the caller's process, as its JSON form otherwise
        self.specs.extend(specs)
        return [Created(ref={"instance_id": NodeSpec.from_dict(s).instance_id
                             if isinstance(s, dict) else s.instance_id}).to_json()
                for s in specs]

    def get_states(self, refs):
        return {r["instance_id"]: {"state": "running"} for r in refs}

    def get_addresses(self, refs):
        return {"i-1": [1, 2]}   # not the contract's shape

    def __getattr__(self, name):
        if name in self.RPC_METHODS:
            return lambda **kw: {}
        raise AttributeError(name)


class TypedCloud(JsonCloud):
    """Answers with the result types themselves (a server in the caller's process)."""

    def get_states(self, refs):
        return {r["instance_id"]: NodeStatus(ResourceState.PENDING, raw="BUILD")
                for r in refs}


def _check_client(transport):
    cloud = cloud_client(transport.client("cloudhandler"), timeout=20)
    created = cloud.create_nodes(specs=[SPEC])   # a NodeSpec goes out as its JSON form
    assert created == [Created(ref={"instance_id": "i-1"})]
    states = submit(transport.client("cloudhandler"), CloudHandlerEndpoint.get_states,
                    refs=[{"instance_id": "i-1"}]).result(20)
    assert set(states) == {"i-1"} and isinstance(states["i-1"], NodeStatus)
    with pytest.raises(TransportError, match=r"the reply to get_addresses is not a "
                                             r"dict\[str, NodeAddresses\]"):
        call(transport.client("cloudhandler"), CloudHandlerEndpoint.get_addresses,
             timeout=20, refs=[])
    return states["i-1"]


@pytest.mark.parametrize("check_json", [False, True], ids=["objects", "through-json"])
def test_typed_results_in_process(check_json):
    for handler, state in ((JsonCloud(), ResourceState.RUNNING),
                           (TypedCloud(), ResourceState.PENDING)):
        with InProcessTransport(check_json=check_json) as transport:
            transport.serve("cloudhandler", handler)
            assert _check_client(transport).state == state
            sent = handler.specs[0]
            assert (sent["instance_id"] if check_json else sent.instance_id) == "i-1"


def test_typed_results_over_the_real_rabbitmq(queues):
    for handler, state in ((JsonCloud(), ResourceState.RUNNING),
                           (TypedCloud(), ResourceState.PENDING)):
        server = AmqpTransport(AMQP_URL, prefix=queues.prefix, rpc_timeout=20)
        client = AmqpTransport(AMQP_URL, prefix=queues.prefix, rpc_timeout=20)
        try:
            server.serve("cloudhandler", handler)
            assert _check_client(client).state == state
            assert handler.specs[0]["instance_id"] == "i-1"   # arrived as JSON
        finally:
            for transport in (client, server):
                queues.forget_after(transport)
                transport.close()


def test_a_composer_client_gives_resolved_specs():
    class Composer:
        RPC_METHODS = methods_of(ServiceComposerEndpoint)

        def resolve_many(self, requests):
            return [Resolved(spec=SPEC).to_json(), {"error": BROKE.to_json()}]

    with InProcessTransport(check_json=True) as transport:
        transport.serve("servicecomposer", Composer(), methods=("resolve_many",))
        first, second = composer_client(transport.client("servicecomposer"),
                                        timeout=10).resolve_many(requests=[{}, {}])
    assert first.spec == SPEC and first.error is None
    assert second.error == BROKE and second.error.said == "no such flavor 'x9'"
