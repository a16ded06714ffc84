"""The compiled model: immutability, queries, the dict form and the summary line."""

from __future__ import annotations

import dataclasses
import json

import pytest

from occo.compiler import (
    FORMAT_VERSION,
    Edge,
    Implementation,
    InvalidModelError,
    Node,
    NodeDefinition,
    Scaling,
    StaticDescription,
    freeze,
    summary_line,
)


def impl(zone: str = "a") -> Implementation:
    return Implementation(resource=freeze({"type": "dummy", "zone": zone}))


def node(name: str, smin: int = 1, smax: int = 1) -> Node:
    return Node(name=name, type="t", scaling=Scaling(min=smin, max=smax),
                implementations=(impl(),))


def diamond() -> StaticDescription:
    return StaticDescription(
        infra_name="diamond",
        nodes=(node("top"), node("left", 2, 4), node("right", 0, 3), node("bottom")),
        edges=(Edge(dependent="top", dependency="left"),
               Edge(dependent="top", dependency="right"),
               Edge(dependent="left", dependency="bottom"),
               Edge(dependent="right", dependency="bottom")))


def test_queries_on_a_diamond():
    d = diamond()
    assert d.levels == (("bottom",), ("left", "right"), ("top",))
    assert d.topological_order == ("bottom", "left", "right", "top")
    assert d.dependencies_of("top") == ("left", "right")
    assert d.dependents_of("bottom") == ("left", "right")
    assert [d.level_of(n) for n in ("bottom", "left", "top")] == [0, 1, 2]
    assert d.depth == 3 and d.instances_at_min == 4 and len(d) == 4
    assert "left" in d and "nowhere" not in d
    assert [n.name for n in d] == ["top", "left", "right", "bottom"]


def test_unknown_node_query_names_the_known_nodes():
    with pytest.raises(KeyError) as caught:
        diamond().dependencies_of("middle")
    assert "no node 'middle' in 'diamond'; nodes: top, left, right, bottom" in str(caught.value)


def test_summary_line_words():
    assert diamond().summary() == "diamond: 4 nodes, 4 instances at min scale, dependency depth 3"
    single = StaticDescription(infra_name="one", nodes=(node("a"),))
    assert summary_line(single) == "one: 1 node, 1 instance at min scale, dependency depth 1"


def test_the_model_is_immutable():
    d = diamond()
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.infra_name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.nodes[0].scaling.min = 5  # type: ignore[misc]
    resource = d.nodes[0].implementations[0].resource
    for change in (lambda: resource.__setitem__("zone", "b"), lambda: resource.pop("zone"),
                   lambda: resource.update(zone="b"), lambda: resource.clear(),
                   lambda: resource.setdefault("x", 1), lambda: resource.__delitem__("zone")):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert resource == {"type": "dummy", "zone": "a"}


def test_dict_form_round_trip_and_shape():
    d = diamond()
    data = d.to_dict()
    assert data["format"] == FORMAT_VERSION
    assert data["topological_order"] == ["bottom", "left", "right", "top"]
    assert data["nodes"][1] == {
        "name": "left", "type": "t", "scaling": {"min": 2, "max": 4}, "filter": {},
        "variables": {}, "implementations": [{
            "resource": {"type": "dummy", "zone": "a"}, "contextualisation": None,
            "config_management": {"type": "none"}, "health_check": {"ping": True}}]}
    assert data["edges"][0] == {"dependent": "top", "dependency": "left", "mappings": []}
    text = json.dumps(data)
    assert StaticDescription.from_dict(json.loads(text)) == d
    # the plain form is a copy: changing it does not change the model
    data["nodes"][0]["implementations"][0]["resource"]["zone"] = "z"
    assert d.nodes[0].implementations[0].resource["zone"] == "a"


def test_node_definition_round_trip():
    nd = NodeDefinition(type="t", implementations=(impl("a"), impl("b")), source="x.yaml")
    data = json.loads(json.dumps(nd.to_dict()))
    assert data == {"type": "t", "implementations": [i.to_dict() for i in nd.implementations]}
    assert NodeDefinition.from_dict(data) == nd  # source is not part of equality


@pytest.mark.parametrize("bad,message", [
    ("not a mapping", "not a mapping"),
    ({"format": 99, "infra_name": "x", "nodes": []}, "format 99 is not supported"),
    ({"format": FORMAT_VERSION, "nodes": []}, "missing 'infra_name'"),
    ({"format": FORMAT_VERSION, "infra_name": "x"}, "missing 'nodes'"),
    ({"format": FORMAT_VERSION, "infra_name": "x", "nodes": [{"name": "a"}]}, "missing 'type'"),
    ({"format": FORMAT_VERSION, "infra_name": "x",
      "nodes": [{"name": "a", "type": "t", "implementations": [{"resource": {}}]}]},
     "resource has no type"),
])
def test_from_dict_refuses_what_is_not_a_compiled_model(bad, message):
    with pytest.raises(InvalidModelError, match=message):
        StaticDescription.from_dict(bad)


def test_from_dict_recomputes_and_checks_the_graph():
    data = diamond().to_dict()
    data["topological_order"] = ["top"]  # not trusted
    assert StaticDescription.from_dict(data).topological_order[0] == "bottom"
    data["edges"].append({"dependent": "bottom", "dependency": "top", "mappings": []})
    with pytest.raises(InvalidModelError, match="cycle"):
        StaticDescription.from_dict(data)
    data["edges"][-1] = {"dependent": "bottom", "dependency": "ghost"}
    with pytest.raises(InvalidModelError, match="'ghost'"):
        StaticDescription.from_dict(data)


def test_duplicate_names_are_refused_by_the_model():
    with pytest.raises(InvalidModelError, match="duplicate node names"):
        StaticDescription(infra_name="x", nodes=(node("a"), node("a")))
