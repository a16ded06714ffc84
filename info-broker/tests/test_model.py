"""The records: defaults, enums and their JSON form."""

from __future__ import annotations

import dataclasses
import json

import pytest

from occo.infobroker import (
    Event,
    InfraRecord,
    InstanceRecord,
    InstanceState,
    Intent,
    ScalingRequest,
)


def test_states_and_intents_are_str_enums():
    assert [str(s) for s in InstanceState] == ["pending", "starting", "ready", "unhealthy",
                                               "failed", "unknown"]
    assert [str(i) for i in Intent] == ["creating", "created", "dropping"]
    assert InstanceState("ready") == "ready"


@pytest.mark.parametrize("rec", [
    InfraRecord(infra_id="i", name="n", description={"a": [1, 2]}),
    InstanceRecord(instance_id="x", infra_id="i", node_name="web", state=InstanceState.READY,
                   intent=Intent.CREATED, addresses=["1.2.3.4"], failure={"reason": "r"}),
    ScalingRequest(infra_id="i", node_name="web", kind="destroy", address="1.2.3.4"),
    Event(type="node.ready", infra_id="i", node_name="web", details={"k": 1}, position=3),
])
def test_json_round_trip(rec):
    text = json.dumps(rec.to_dict())
    assert type(rec).from_dict(json.loads(text)) == rec


def test_records_are_frozen_with_slots():
    rec = InstanceRecord(instance_id="x", infra_id="i", node_name="web")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.state = InstanceState.READY
    assert not hasattr(rec, "__dict__")
    assert rec.address is None
    assert InstanceRecord(instance_id="x", infra_id="i", node_name="w",
                          private_addresses=["10.0.0.1"]).address == "10.0.0.1"


def test_instance_from_dict_gives_enums():
    rec = InstanceRecord.from_dict({"instance_id": "x", "infra_id": "i", "node_name": "w",
                                    "state": "failed", "intent": "dropping"})
    assert rec.state is InstanceState.FAILED and rec.intent is Intent.DROPPING
