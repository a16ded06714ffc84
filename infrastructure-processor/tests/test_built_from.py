"""Each created instance records what it was built from (issue 24): its template
sections (already in ``implementation``), the variables they name, and the lookups the
service composer reports, under ``implementation.built_from`` with a digest."""

from __future__ import annotations

from conftest import World
from endpoints import SimComposer

from occo.infraprocessor._builtfrom import built_from, digest, used_variables, without

IMPL = {"resource": {"type": "sim", "endpoint": "e1", "image": "{{ variables.image }}"},
        "contextualisation": {"type": "basic", "attributes": {"x": "{{ variables['port'] }}"}},
        "config_management": {"type": "none"}, "health_check": {"ping": True}}


class TracingComposer(SimComposer):
    """Says that app's templates read getip('db')."""

    def resolve_many(self, requests: list[dict]) -> list[dict]:
        out = super().resolve_many(requests)
        for req, result in zip(requests, out):
            if req["node"]["name"] == "app" and "spec" in result:
                result["used"] = {"getip('db')": "10.1.0.1"}
        return out


def test_a_created_instance_records_its_inputs_and_their_digest():
    world = World(composer=TracingComposer())
    try:
        outcome = world.build({"db": 1, "app": 2}, [("app", "db")])
        assert outcome["status"] == "ready"
        recs = {r.instance_id: r for r in world.store.list_instances("infra-1")}
        app = recs["app-0"].implementation["built_from"]
        assert app["lookups"] == {"getip('db')": "10.1.0.1"}
        assert app["digest"] == digest(without(recs["app-0"].implementation), app)
        assert recs["app-1"].implementation["built_from"]["digest"] == app["digest"]
        db = recs["db-0"].implementation["built_from"]
        assert db["lookups"] == {} and db["digest"] != app["digest"]
    finally:
        world.close()


def test_only_named_variables_are_recorded_unless_a_template_uses_them_whole():
    variables = {"image": "ami-1", "port": 80, "unused": True}
    assert used_variables(IMPL, variables) == {"image": "ami-1", "port": 80}
    whole = {**IMPL, "resource": {"type": "sim", "all": "{{ variables | tojson }}"}}
    assert used_variables(whole, variables) == variables
    assert used_variables({"resource": {"type": "sim"}}, variables) == {}


def test_the_digest_changes_with_any_input_and_ignores_built_from_itself():
    node = {"variables": {"image": "ami-1", "port": 80}}
    one = built_from(IMPL, node, {"getip('db')": "10.0.0.1"})
    assert without({**IMPL, "built_from": one}) == IMPL
    assert built_from({**IMPL, "built_from": one}, node, {"getip('db')": "10.0.0.1"}) == one
    assert built_from(IMPL, node, {"getip('db')": "10.0.0.2"})["digest"] != one["digest"]
    assert built_from(IMPL, {"variables": {"image": "ami-2", "port": 80}}, {
        "getip('db')": "10.0.0.1"})["digest"] != one["digest"]
    assert built_from(IMPL, {"variables": {**node["variables"], "unused": 1}}, {
        "getip('db')": "10.0.0.1"})["digest"] == one["digest"]
