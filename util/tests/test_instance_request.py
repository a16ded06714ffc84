"""The one builder of the service composer's request (occo.util.instance_request)."""

import json
from dataclasses import dataclass, field
from typing import Any

from occo.util.compiled import CompiledDescription
from occo.util.instance_request import RequestBuilder, ancestors
from occo.util.instructions import RunScope, instruction_from_dict


# occo-util cannot depend on the compiler: these stand in for its model, with only what
# the CompiledDescription view names
@dataclass(frozen=True)
class Mapping_:
    source: str
    target: str
    synch: bool = False
    extra: dict = field(default_factory=dict)

    def occopus_form(self) -> dict[str, Any]:
        return {**self.extra, "attributes": [self.source, self.target], "synch": self.synch}


@dataclass(frozen=True)
class Edge:
    dependent: str
    dependency: str
    mappings: tuple[Mapping_, ...] = ()


@dataclass(frozen=True)
class Node:
    name: str
    fields: dict

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.fields}


@dataclass(frozen=True)
class Description:
    infra_name: str
    user_id: str | None
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    variables: dict = field(default_factory=dict)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def dependencies_of(self, name: str) -> tuple[str, ...]:
        return tuple(e.dependency for e in self.edges if e.dependent == name)


def graph(*edges: tuple[str, str], names: tuple[str, ...] = ()) -> Description:
    return Description("g", None, tuple(Node(n, {}) for n in names),
                       tuple(Edge(a, b) for a, b in edges))


DESCRIPTION: CompiledDescription = Description(
    infra_name="Shop", user_id="me",
    nodes=tuple(Node(n, {"type": "t", "variables": {"v": n},
                         "implementations": [{"resource": {"type": "dummy"}}]})
                for n in ("DB", "cache", "app", "web", "lonely")),
    edges=(Edge("app", "DB", (Mapping_("port", "app.db.port", True, {"note": "x"}),)),
           Edge("app", "cache"),
           Edge("web", "app", (Mapping_("ip", "up"),))))


def test_dependencies_are_direct_and_indirect_nearest_first():
    assert ancestors(DESCRIPTION, "web") == ["app", "DB", "cache"]
    assert ancestors(DESCRIPTION, "app") == ["DB", "cache"]
    assert ancestors(DESCRIPTION, "lonely") == []
    diamond = graph(("d", "b"), ("d", "c"), ("b", "a"), ("c", "a"))
    assert ancestors(diamond, "d") == ["b", "c", "a"]
    assert ancestors(graph(("a", "b"), ("b", "a")), "a") == ["b"]   # a cycle ends


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
    node = RequestBuilder(None, "i").node("ghost")
    assert node == {"name": "ghost", "dependencies": [],
                    "mappings": {"inbound": {}, "outbound": {}}}
    node = RequestBuilder(DESCRIPTION, "i").node("ghost")
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
