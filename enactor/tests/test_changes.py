"""What makes an instance outdated, and how its reasons read (occo.enactor.changes)."""

from __future__ import annotations

from occo.compiler import StaticDescription
from occo.enactor import MaintenanceConfig, decide
from occo.enactor.changes import MISSING, Change, diff, flatten, outdated, render_change
from occo.infobroker import InstanceRecord, InstanceState, Intent

IMPL = {"resource": {"type": "dummy", "image": "a"}, "contextualisation": None,
        "config_management": {"type": "none"}, "health_check": {"ping": True}}
WEB = {**IMPL, "contextualisation": {"type": "basic",
                                     "attributes": {"db": "{{ getip('db') }}"}}}


def desc(db_impl=IMPL, web_impl=WEB, variables=None, scaling=(1, 1)) -> StaticDescription:
    def node(name, impl, lo_hi=(1, 1)):
        return {"name": name, "type": f"{name}_t", "scaling": {"min": lo_hi[0], "max": lo_hi[1]},
                "filter": {}, "variables": variables or {"port": 5432},
                "implementations": [impl]}
    return StaticDescription.from_dict({
        "format": 1, "infra_name": "t", "user_id": None, "variables": {},
        "nodes": [node("db", db_impl), node("web", web_impl, scaling)],
        "edges": [{"dependent": "web", "dependency": "db", "mappings": []}]})


def rec(iid, node, impl, *, lookups=None, variables=None, addresses=(), created=0.0,
        state=InstanceState.READY):
    built = {"digest": "sha256:x", "variables": variables or {}, "attributes": {},
             "lookups": lookups or {}}
    return InstanceRecord(instance_id=iid, infra_id="i", node_name=node,
                          implementation={**impl, "built_from": built},
                          resource={"instance_id": iid}, state=state, intent=Intent.CREATED,
                          addresses=list(addresses), created_at=created)


def built(db_impl=IMPL, db_address="10.0.0.1"):
    return [rec("d1", "db", db_impl, addresses=[db_address]),
            rec("w1", "web", WEB, lookups={"getip('db')": "10.0.0.1"}, addresses=["10.0.0.2"])]


def test_flatten_and_diff_name_each_differing_key():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {"a.b": 1, "a.c": [1, 2], "d": {}}
    changes = diff({"resource": {"image": "a", "gone": 1}}, {"resource": {"image": "b",
                                                                           "new": 2}})
    assert changes == [Change("resource.gone", 1, MISSING), Change("resource.image", "a", "b"),
                       Change("resource.new", MISSING, 2)]
    assert [c.to_dict() for c in changes] == [
        {"key": "resource.gone", "old": 1}, {"key": "resource.image", "old": "a", "new": "b"},
        {"key": "resource.new", "new": 2}]


def test_an_unchanged_description_has_nothing_outdated():
    found, unchanged = outdated(desc(), built())
    assert found == {} and unchanged == {"db": 1, "web": 1}


def test_a_changed_key_is_the_reason_and_forces_the_dependent_reading_its_address():
    found, unchanged = outdated(desc(db_impl={**IMPL, "resource": {"type": "dummy",
                                                                    "image": "b"}}), built())
    assert unchanged == {}
    [db] = found["db"]
    assert db["changes"] == [{"key": "resource.image", "old": "a", "new": "b"}]
    assert db["forced_by"] == []
    [web] = found["web"]
    assert web["forced_by"] == ["db"]
    assert web["changes"] == [{"key": "lookups.getip('db')", "old": "10.0.0.1",
                               "forced_by": "db"}]
    assert render_change(web["changes"][0]) == [
        "- lookups.getip('db'): \"10.0.0.1\"",
        "+ lookups.getip('db'): (changes: db is replaced or dropped)"]


def test_a_dependency_that_moved_since_is_a_reason_without_forcing():
    records = [rec("d2", "db", IMPL, addresses=["10.0.0.9"]),
               rec("w1", "web", WEB, lookups={"getip('db')": "10.0.0.1"})]
    found, _ = outdated(desc(), records)
    assert found["web"][0]["changes"] == [{"key": "lookups.getip('db')", "old": "10.0.0.1",
                                           "new": "10.0.0.9"}]
    assert found["web"][0]["forced_by"] == []


def test_a_dependency_not_ready_now_is_no_reason():
    records = [rec("d1", "db", IMPL, addresses=["10.0.0.1"], state=InstanceState.UNHEALTHY),
               rec("w1", "web", WEB, lookups={"getip('db')": "10.0.0.1"})]
    found, unchanged = outdated(desc(), records)
    assert "web" not in found and unchanged["web"] == 1


def test_only_the_recorded_variables_count_and_secrets_are_masked():
    records = [rec("d1", "db", IMPL, addresses=["10.0.0.1"]),
               rec("w1", "web", WEB, variables={"db_password": "old-secret"},
                   lookups={"getip('db')": "10.0.0.1"})]
    found, unchanged = outdated(desc(variables={"db_password": "new-secret",
                                                "unused": 1}), records)
    assert unchanged == {"db": 1}
    assert found["web"][0]["changes"] == [{"key": "variables.db_password", "old": "***",
                                           "new": "***"}]


def test_records_without_built_from_compare_their_templates_only():
    old = InstanceRecord(instance_id="d1", infra_id="i", node_name="db", implementation=IMPL,
                         state=InstanceState.READY, intent=Intent.CREATED)
    assert outdated(desc(variables={"x": 1}), [old]) == ({}, {"db": 1})
    found, _ = outdated(desc(db_impl={**IMPL, "health_check": {"ping": False}}), [old])
    assert found["db"][0]["changes"] == [{"key": "health_check.ping", "old": True,
                                          "new": False}]
    assert found["db"][0]["built_from"] is None


def test_decide_reports_outdated_but_instructs_nothing_and_scaling_replaces_nothing():
    def run(description, records):
        return decide(description, records, infra_id="i", targets={}, now=0.0,
                      config=MaintenanceConfig(), choose=lambda n: (0, n.implementations[0]),
                      new_instance_id=lambda: "new")
    changed = run(desc(db_impl={**IMPL, "resource": {"type": "dummy", "image": "b"}}), built())
    assert changed.instructions == [] and sorted(changed.outdated) == ["db", "web"]
    scaled = run(desc(scaling=(2, 3)), built())
    assert scaled.outdated == {} and scaled.unchanged == {"db": 1, "web": 1}
    assert [c.node_name for c in scaled.creates] == ["web"]


def test_an_instance_the_plan_drops_anyway_is_not_outdated():
    records = built(db_impl={**IMPL, "resource": {"type": "dummy", "image": "old"}})
    found, unchanged = outdated(desc(), records, leaving={"d1"})
    assert "db" not in found and "db" not in unchanged
    assert found["web"][0]["forced_by"] == ["db"]


def test_the_membership_of_a_node_is_no_reason():
    """getipall changes with every scaling and heal of the node it reads: a balancer that
    read it is neither outdated when the node scales nor forced when it is replaced."""
    lb = {**IMPL, "contextualisation": {"type": "basic",
                                        "attributes": {"all": "{{ getipall('db') }}"}}}
    records = [rec("d1", "db", IMPL, addresses=["10.0.0.1"]),
               rec("d2", "db", IMPL, addresses=["10.0.0.3"], created=1.0),
               rec("w1", "web", lb, lookups={"getipall('db')": ["10.0.0.1"]},
                   addresses=["10.0.0.2"])]
    found, unchanged = outdated(desc(web_impl=lb), records)
    assert found == {} and unchanged == {"db": 2, "web": 1}
    moved = {**IMPL, "resource": {"type": "dummy", "image": "b"}}
    found, _ = outdated(desc(db_impl=moved, web_impl=lb), records)
    assert sorted(i["instance_id"] for i in found["db"]) == ["d1", "d2"]
    assert "web" not in found
