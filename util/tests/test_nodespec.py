"""NodeSpec crosses processes as JSON and carries OCCO's tags."""

from __future__ import annotations

import json

from occo.util import NodeSpec, new_id


def test_round_trip_and_tags():
    spec = NodeSpec(instance_id=new_id(), infra_id="inf-1", node_name="web", node_type="web_t",
                    resource={"type": "dummy"}, context={"type": "basic", "attributes": {}},
                    tags={"team": "a"})
    again = NodeSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.resource_type == "dummy"
    assert spec.occo_tags() == {"team": "a", "occo:infra_id": "inf-1", "occo:node": "web",
                                "occo:instance_id": spec.instance_id}


def test_ids_are_unique():
    assert len({new_id() for _ in range(1000)}) == 1000
