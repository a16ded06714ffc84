"""The one builder of the service composer's request (occo.util.instance_request)."""

import json

from occo.util.instance_request import RequestBuilder, ancestors
from occo.util.instructions import RunScope, instruction_from_dict

DESCRIPTION = {
    "infra_name": "Shop", "user_id": "me",
    "nodes": [{"name": n, "type": "t", "variables": {"v": n},
               "implementations": [{"resource": {"type": "dummy"}}]}
              for n in ("DB", "cache", "app", "web", "lonely")],
    "edges": [
        {"dependent": "app", "dependency": "DB",
         "mappings": [{"attributes": ["port", "app.db.port"], "synch": True,
                       "extra": {"note": "x"}}], "extra": {"weight": 3}},
        {"dependent": "app", "dependency": "cache", "mappings": []},
        {"dependent": "web", "dependency": "app", "mappings": [{"attributes": ["ip", "up"],
                                                                 "synch": False}]},
    ],
}


def test_dependencies_are_direct_and_indirect_nearest_first():
    assert ancestors(DESCRIPTION["edges"], "web") == ["app", "DB", "cache"]
    assert ancestors(DESCRIPTION["edges"], "app") == ["DB", "cache"]
    assert ancestors(DESCRIPTION["edges"], "lonely") == []
    diamond = [{"dependent": "d", "dependency": "b"}, {"dependent": "d", "dependency": "c"},
               {"dependent": "b", "dependency": "a"}, {"dependent": "c", "dependency": "a"}]
    assert ancestors(diamond, "d") == ["b", "c", "a"]


def test_the_request_carries_the_node_without_its_implementations():
    builder = RequestBuilder(DESCRIPTION, "infra-1")
    impl = {"resource": {"type": "dummy"}}
    req = builder.request("web", "inst-1", impl)
    assert req["instance_id"] == "inst-1" and req["infra_id"] == "infra-1"
    assert req["infra_name"] == "Shop" and req["user_id"] == "me"
    assert req["implementation"] is impl
    assert req["node"]["dependencies"] == ["app", "DB", "cache"]
    assert req["node"]["variables"] == {"v": "web"}
    assert "implementations" not in req["node"]
    assert builder.request("web", "inst-2", impl)["node"] is req["node"]  # built once


def test_mappings_come_in_occopus_form_with_their_extra_keys():
    node = RequestBuilder(DESCRIPTION, "i").node("app")
    assert node["mappings"]["inbound"] == {
        "DB": [{"note": "x", "attributes": ["port", "app.db.port"], "synch": True}],
        "cache": []}
    assert node["mappings"]["outbound"] == {
        "web": [{"attributes": ["ip", "up"], "synch": False}]}


def test_an_unknown_node_still_gets_a_request():
    node = RequestBuilder({}, "i").node("ghost")
    assert node == {"name": "ghost", "dependencies": [],
                    "mappings": {"inbound": {}, "outbound": {}}}


def test_a_runs_scope_gives_the_same_requests_as_the_description_after_json():
    """The processor builds its requests from the RunScope the enactor sent (through
    JSON, as over amqp); they are the ones the description would give."""
    scope = RunScope.of(DESCRIPTION, "infra-1")
    assert scope.waits_for == {"DB": (), "cache": (), "app": ("DB", "cache"),
                               "web": ("app",), "lonely": ()}
    assert all("implementations" not in node for node in scope.nodes.values())
    sent = instruction_from_dict(json.loads(json.dumps(scope.to_dict())))
    assert sent == scope
    from_scope = RequestBuilder.from_scope(sent, scaling_secret="s3cret-scaling-value")
    whole = RequestBuilder(DESCRIPTION, "infra-1", scaling_secret="s3cret-scaling-value")
    impl = {"resource": {"type": "dummy"}}
    for name in ("DB", "cache", "app", "web", "lonely"):
        assert from_scope.request(name, "x", impl) == whole.request(name, "x", impl), name
    assert from_scope.request("web", "x", impl)["node"]["dependencies"] == ["app", "DB", "cache"]
