"""``synch_attrs`` (Occopus's synch mappings): a node is ready only once the attributes
its dependents wait for have values."""

from __future__ import annotations

from conftest import make_request

from occo.servicecomposer.health.synch_attrs import lookup_attribute, synch_attribute_names


def _outbound(*mappings: dict) -> dict:
    return {"inbound": {}, "outbound": {"app": list(mappings)}}


def test_names_come_from_synch_outbound_mappings_then_the_list_once_each():
    mappings = _outbound({"attributes": ["port", "db_port"], "synch": True},
                         {"attributes": ["user", "db_user"], "synch": False},
                         {"attributes": ["port", "other"], "synch": True, "note": "kept"})
    assert synch_attribute_names(mappings, ["schema", "port"]) == ["port", "schema"]
    assert synch_attribute_names({"inbound": {"db": [{"attributes": ["a", "b"],
                                                      "synch": True}]}}) == []
    assert synch_attribute_names(None, None) == []


def test_lookup_takes_a_whole_key_or_a_dotted_path_from_the_first_source_that_has_it():
    sources = [{"ip": "10.0.0.1"}, {"mysql": {"port": 3306}, "a.b": "flat"}]
    assert lookup_attribute(sources, "ip") == "10.0.0.1"
    assert lookup_attribute(sources, "mysql.port") == 3306
    assert lookup_attribute(sources, "a.b") == "flat"
    assert lookup_attribute(sources, "mysql.user") is None
    assert lookup_attribute(sources, "nothing") is None


def test_a_dependency_is_healthy_when_its_synch_attributes_have_values(composer):
    request = make_request(name="db", node_type="db_node", attributes={"port": 3306},
                           mappings=_outbound({"attributes": ["port", "db_port"],
                                               "synch": True},
                                              {"attributes": ["ip", "db_host"],
                                               "synch": True}),
                           health_check={"ping": False})
    plan = composer.health_plan(request, "127.0.0.1")
    assert [(c.kind, c.target) for c in plan.checks] == [
        ("synch_attrs", {"attribute": "port", "available": True}),
        ("synch_attrs", {"attribute": "ip", "available": True})]
    (report,) = composer.check_health([(request, "127.0.0.1")])
    assert report.healthy, report.summary()


def test_a_missing_or_null_attribute_keeps_the_node_unhealthy_and_says_which(composer):
    request = make_request(name="db", node_type="db_node", attributes={"port": None},
                           contextualisation={"type": "cloudinit", "context_template": "",
                                              "attributes": {"schema": {"name": "wp"}}},
                           mappings=_outbound({"attributes": ["port", "db_port"],
                                               "synch": True}),
                           health_check={"ping": False,
                                         "synch_attrs": ["schema.name", "schema.owner"]})
    (report,) = composer.check_health([(request, "127.0.0.1")])
    assert not report.healthy
    failed = {c.target: c.detail for c in report.failures}
    assert failed == {"port": "attribute 'port' has no value yet",
                      "schema.owner": "attribute 'schema.owner' has no value yet"}
    assert "synch_attrs schema.name" not in report.summary()


def test_nodes_without_synch_mappings_plan_no_such_check(composer):
    request = make_request(mappings=_outbound({"attributes": ["a", "b"], "synch": False}),
                           health_check={"ping": False})
    assert composer.health_plan(request, "127.0.0.1").checks == ()
