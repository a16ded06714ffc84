"""StoreProvider: the store-backed keys, answered with redacted, JSON-able values."""

from __future__ import annotations

import json

import pytest

from occo.infobroker import (
    Event,
    InfoRouter,
    InfraRecord,
    InstanceRecord,
    InstanceState,
    NotFound,
    StoreProvider,
)


@pytest.fixture
def router(store):
    store.create_infrastructure(InfraRecord(
        infra_id="i", name="demo", status="ready",
        description={"infra_name": "demo", "variables": {"db_password": "pw-1234"}}))
    store.add_instances([
        InstanceRecord(instance_id="db-1", infra_id="i", node_name="db", created_at=1.0,
                       implementation={"type": "db", "health_check": {"mysqldbs": [
                           {"name": "x", "user": "u", "pass": "pw-1234"}]}},
                       state=InstanceState.READY, addresses=["10.0.0.5"]),
        InstanceRecord(instance_id="web-1", infra_id="i", node_name="web", created_at=2.0,
                       state=InstanceState.STARTING, private_addresses=["192.168.0.9"]),
        InstanceRecord(instance_id="web-2", infra_id="i", node_name="web", created_at=3.0)])
    store.put_node_definition("db", [{"type": "db", "resource": {"password": "pw-1234"}}])
    store.append_event(Event(type="infra.created", infra_id="i", time=5.0))
    store.set_scaling_target("i", "web", 2)
    return InfoRouter([StoreProvider(store)])


def test_infrastructure_keys(router):
    assert router.get("infrastructure.name", infra_id="i") == "demo"
    assert router.get("infrastructure.status", infra_id="i") == "ready"
    listed = router.get("infrastructure.list")
    assert [r["infra_id"] for r in listed] == ["i"] and "description" not in listed[0]
    assert router.get("infrastructure.record", infra_id="i")["version"] == 1
    assert router.get("infrastructure.static_description", infra_id="i") == {
        "infra_name": "demo", "variables": {"db_password": "***"}}
    assert router.get("infrastructure.state", infra_id="i") == {
        "db": {"db-1": "ready"}, "web": {"web-1": "starting", "web-2": "pending"}}
    assert router.get("infrastructure.scaling_targets", infra_id="i") == {"web": 2}
    events = router.get("infrastructure.events", infra_id="i")
    assert events == [{"type": "infra.created", "infra_id": "i", "node_name": None,
                       "instance_id": None, "time": 5.0, "details": {}, "position": 1}]
    assert router.get("infrastructure.events", infra_id="i", after=1) == []


def test_node_instances(router):
    nodes = router.get("infrastructure.node_instances", infra_id="i")
    assert sorted(nodes) == ["db", "web"] and sorted(nodes["web"]) == ["web-1", "web-2"]
    db = nodes["db"]["db-1"]
    assert db["state"] == "ready" and db["addresses"] == ["10.0.0.5"]
    assert db["implementation"]["health_check"]["mysqldbs"][0]["pass"] == "***"
    only = router.get("infrastructure.node_instances", infra_id="i", node_name="db")
    assert list(only) == ["db"]
    json.dumps(nodes)   # JSON-able, ready for the REST API


def test_node_keys(router):
    assert router.get("node.state", instance_id="web-1") == "starting"
    assert router.get("node.address", instance_id="db-1") == "10.0.0.5"
    assert router.get("node.address", instance_id="web-1") == "192.168.0.9"
    assert router.get("node.address", instance_id="web-2") is None
    assert router.get("node.addresses", instance_id="web-1") == {
        "addresses": [], "private_addresses": ["192.168.0.9"]}
    assert router.get("node.instance", instance_id="db-1")["node_name"] == "db"
    assert [r["instance_id"] for r in router.get("node.instances", infra_id="i",
                                                   node_name="web")] == ["web-1", "web-2"]
    assert [r["instance_id"] for r in router.get("node.find", infra_id="i",
                                                   state="pending")] == ["web-2"]
    assert router.get("node.definition", node_type="db") == [
        {"type": "db", "resource": {"password": "***"}}]


def test_unknown_ids_raise_the_stores_not_found(router):
    with pytest.raises(NotFound, match="no instance 'ghost'"):
        router.get("node.state", instance_id="ghost")
    with pytest.raises(NotFound, match="no infrastructure 'ghost'"):
        router.get("infrastructure.state", infra_id="ghost")
