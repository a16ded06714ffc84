"""Instructions cross the infraprocessor endpoint as JSON."""

from __future__ import annotations

import json

import pytest

from occo.util.instructions import (
    CreateInfrastructure,
    CreateNode,
    DropInfrastructure,
    DropNode,
    RunScope,
    instruction_from_dict,
)
from occo.util.nodespec import endpoint_key


@pytest.mark.parametrize("instruction", [
    CreateInfrastructure(infra_id="i1"),
    CreateNode(infra_id="i1", instance_id="n1", node={"name": "web", "type": "t"},
               implementation={"resource": {"type": "dummy"}}, waits_for=("db",),
               reason="scale to min 2"),
    DropNode(infra_id="i1", instance_id="n1", node_name="web", reason="scale down"),
    DropInfrastructure(infra_id="i1"),
    RunScope(infra_id="i1", infra_name="shop", user_id="me",
             nodes={"web": {"name": "web", "dependencies": ["db"], "mappings": {}}},
             waits_for={"web": ("db",), "db": ()}),
])
def test_round_trip(instruction):
    data = json.loads(json.dumps(instruction.to_dict()))
    assert instruction_from_dict(data) == instruction


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown instruction kind 'launch'"):
        instruction_from_dict({"kind": "launch"})


def test_endpoint_key_groups_by_cloud_endpoint():
    a = endpoint_key({"type": "ec2", "endpoint": "https://e", "regionname": "r1", "image_id": "x"})
    b = endpoint_key({"type": "ec2", "endpoint": "https://e", "regionname": "r1", "image_id": "y"})
    c = endpoint_key({"type": "ec2", "endpoint": "https://e", "regionname": "r2"})
    assert a == b != c
    assert endpoint_key({"type": "local"}) == "local"
