"""The store contract: every backend (memory, sqlite, redis) passes these same tests."""

from __future__ import annotations

import time

import pytest

from occo.infobroker import (
    AlreadyExists,
    Event,
    InfraRecord,
    InstanceRecord,
    InstanceState,
    Intent,
    InvalidRecord,
    NotFound,
    ScalingRequest,
    VersionConflict,
)
from occo.util import InfraStatus, new_id

IMPL_WEB = {"type": "web", "resource": {"type": "dummy", "image": "web-1"},
            "contextualisation": {"type": "cloudinit", "context_template": "#cloud-config\n"}}
IMPL_DB = {"type": "db", "resource": {"type": "dummy", "image": "db-1"},
           "health_check": {"ports": [3306]}}


def make_infra(store, infra_id: str | None = None, **fields) -> InfraRecord:
    rec = InfraRecord(infra_id=infra_id or new_id(), name=fields.pop("name", "demo"),
                      user_id="me@example.org",
                      description=fields.pop("description", {"infra_name": "demo",
                                                             "nodes": [{"name": "web"}]}),
                      **fields)
    return store.create_infrastructure(rec)


def make_instance(infra_id: str, n: int, node: str = "web", impl: dict | None = None,
                  **fields) -> InstanceRecord:
    return InstanceRecord(instance_id=fields.pop("instance_id", f"{infra_id[:8]}-{node}-{n}"),
                          infra_id=infra_id, node_name=node,
                          implementation=impl if impl is not None else IMPL_WEB,
                          created_at=fields.pop("created_at", 1000.0 + n), **fields)


# ====================================================================== infrastructures

def test_create_and_get_infrastructure_round_trip(store):
    created = make_infra(store, "infra-1", status="building")
    got = store.get_infrastructure("infra-1")
    assert got == created
    assert got.version == 1
    assert got.name == "demo" and got.user_id == "me@example.org"
    assert got.description == {"infra_name": "demo", "nodes": [{"name": "web"}]}
    assert got.maintained is False and got.status == "building"


def test_create_sets_version_one_whatever_was_given(store):
    rec = InfraRecord(infra_id="i-v", name="x", version=7)
    assert store.create_infrastructure(rec).version == 1
    assert store.get_infrastructure("i-v").version == 1


def test_create_duplicate_infrastructure_is_refused(store):
    make_infra(store, "dup", name="first")
    with pytest.raises(AlreadyExists, match="infrastructure 'dup' already exists"):
        make_infra(store, "dup", name="second")
    assert store.get_infrastructure("dup").name == "first"


def test_unknown_infrastructure_is_not_found(store):
    with pytest.raises(NotFound, match="no infrastructure 'nope' in the store") as err:
        store.get_infrastructure("nope")
    assert err.value.kind == "infrastructure" and err.value.key == "nope"


def test_list_infrastructures_oldest_first(store):
    make_infra(store, "b", created_at=20.0)
    make_infra(store, "a", created_at=30.0)
    make_infra(store, "c", created_at=10.0)
    assert [r.infra_id for r in store.list_infrastructures()] == ["c", "b", "a"]


def test_update_infrastructure_with_expected_version(store):
    make_infra(store, "u")
    before = time.time()
    new = store.update_infrastructure("u", expected_version=1, status="ready", maintained=True)
    assert (new.version, new.status, new.maintained) == (2, "ready", True)
    assert new.updated_at >= before
    assert store.get_infrastructure("u") == new
    newer = store.update_infrastructure("u", expected_version=2,
                                        description={"infra_name": "changed"})
    assert newer.version == 3 and newer.description == {"infra_name": "changed"}
    assert newer.status == "ready"


def test_update_infrastructure_stale_version_conflicts_and_changes_nothing(store):
    make_infra(store, "c")
    store.update_infrastructure("c", expected_version=1, status="ready")
    with pytest.raises(VersionConflict, match="expected version 1, the store has version 2") as e:
        store.update_infrastructure("c", expected_version=1, status="failed")
    assert (e.value.expected, e.value.actual) == (1, 2)
    assert store.get_infrastructure("c").status == "ready"


def test_update_infrastructure_without_version_applies_to_current(store):
    make_infra(store, "n")
    store.update_infrastructure("n", expected_version=None, status="failed")
    rec = store.update_infrastructure("n", expected_version=None, status=InfraStatus.READY,
                                      updated_at=5.0)
    assert (rec.version, rec.status, rec.updated_at) == (3, InfraStatus.READY, 5.0)
    assert type(rec.status) is InfraStatus and type(store.get_infrastructure("n").status) \
        is InfraStatus


@pytest.mark.parametrize("changes, message", [
    ({"colour": "red"}, "an infrastructure has no field 'colour'"),
    ({"infra_id": "other"}, "the infra_id of an infrastructure cannot be changed"),
    ({"version": 9}, "the version of an infrastructure cannot be changed"),
    ({"maintained": "yes"}, "maintained must be true or false, not 'yes'"),
    ({"status": ""}, "status must be one of building, ready, degraded, failed, cancelling, "
                     "cancelled, destroying, destroyed, destroy_failed, not ''"),
    ({"status": "partial"}, "status must be one of building, .*, not 'partial'"),
    ({"status": "damaged"}, "status must be one of .*destroy_failed, not 'damaged'"),
    ({"description": ["not", "a", "mapping"]}, "description must be a mapping"),
])
def test_update_infrastructure_bad_change_is_refused(store, changes, message):
    make_infra(store, "bad")
    with pytest.raises(InvalidRecord, match=message):
        store.update_infrastructure("bad", expected_version=1, **changes)
    assert store.get_infrastructure("bad").version == 1


def test_update_unknown_infrastructure_is_not_found(store):
    with pytest.raises(NotFound):
        store.update_infrastructure("ghost", expected_version=1, status="ready")


def test_delete_infrastructure_removes_everything_of_it(store):
    make_infra(store, "gone")
    make_infra(store, "kept")
    store.add_instances([make_instance("gone", i) for i in range(3)])
    store.add_instances([make_instance("kept", i) for i in range(2)])
    store.set_scaling_target("gone", "web", 3)
    store.push_scaling_request(ScalingRequest(infra_id="gone", node_name="web", kind="create"))
    store.start_failure_timer("gone", make_instance("gone", 0).instance_id, 1.0)
    store.append_event(Event(type="infra.created", infra_id="gone"))
    store.append_event(Event(type="infra.created", infra_id="kept"))

    store.delete_infrastructure("gone")

    with pytest.raises(NotFound):
        store.get_infrastructure("gone")
    with pytest.raises(NotFound):
        store.get_instance(make_instance("gone", 0).instance_id)
    for read in (store.list_instances, store.get_scaling_targets, store.take_scaling_requests,
                 store.get_failure_timers, store.read_events, store.last_event):
        with pytest.raises(NotFound):
            read("gone")
    assert [r.infra_id for r in store.list_infrastructures()] == ["kept"]
    assert len(store.list_instances("kept")) == 2
    assert len(store.read_events("kept")) == 1
    # the id can be used again, and starts empty
    make_infra(store, "gone")
    assert store.list_instances("gone") == [] and store.read_events("gone") == []
    assert store.get_scaling_targets("gone") == {} and store.get_failure_timers("gone") == {}


def test_delete_unknown_infrastructure_is_not_found(store):
    with pytest.raises(NotFound, match="no infrastructure 'ghost'"):
        store.delete_infrastructure("ghost")


# ====================================================================== node definitions

def test_node_definitions_put_get_list_replace_delete(store):
    store.put_node_definition("web", [IMPL_WEB, {"type": "web", "resource": {"type": "ec2"}}])
    store.put_node_definition("db", [IMPL_DB])
    assert store.get_node_definition("web")[0] == IMPL_WEB
    assert len(store.get_node_definition("web")) == 2
    assert store.list_node_definitions() == {"db": [IMPL_DB],
                                             "web": store.get_node_definition("web")}
    store.put_node_definition("web", [IMPL_DB])
    assert store.get_node_definition("web") == [IMPL_DB]
    store.delete_node_definition("web")
    with pytest.raises(NotFound, match="no node definition 'web'"):
        store.get_node_definition("web")
    with pytest.raises(NotFound):
        store.delete_node_definition("web")


@pytest.mark.parametrize("node_type, impls, message", [
    ("", [IMPL_WEB], "a node type must be a non-empty string"),
    ("web", IMPL_WEB, "must be a list of mappings"),
    ("web", ["text"], "must be a list of mappings"),
    ("web", [{"bad": object()}], "is not JSON-able"),
])
def test_bad_node_definition_is_refused(store, node_type, impls, message):
    with pytest.raises(InvalidRecord, match=message):
        store.put_node_definition(node_type, impls)
    assert store.list_node_definitions() == {}


# ====================================================================== instances

def test_add_get_and_list_instances(store):
    make_infra(store, "i")
    records = [make_instance("i", n, created_at=100.0 - n) for n in range(3)]
    records.append(make_instance("i", 9, node="db", impl=IMPL_DB, created_at=50.0))
    store.add_instances(records)
    got = store.get_instance(records[0].instance_id)
    assert got == records[0]
    assert (got.state, got.intent, got.version) == (InstanceState.PENDING, Intent.CREATING, 1)
    listed = store.list_instances("i")
    assert [r.instance_id for r in listed] == [records[3].instance_id, records[2].instance_id,
                                               records[1].instance_id, records[0].instance_id]
    assert [r.node_name for r in store.list_instances("i", "db")] == ["db"]
    assert store.list_instances("i", "db")[0].implementation == IMPL_DB
    assert {r.instance_id for r in store.list_instances("i", "web")} == \
        {r.instance_id for r in records[:3]}
    assert store.list_instances("i", "nothing") == []


def test_list_instances_orders_equal_times_by_id(store):
    make_infra(store, "t")
    store.add_instances([make_instance("t", 0, instance_id=x, created_at=5.0)
                         for x in ("c", "a", "b")])
    assert [r.instance_id for r in store.list_instances("t")] == ["a", "b", "c"]


def test_all_fields_round_trip(store):
    make_infra(store, "f")
    rec = make_instance("f", 1, resource={"type": "dummy", "id": "r-1"},
                        state=InstanceState.READY, intent=Intent.CREATED,
                        addresses=["10.0.0.1", "10.0.0.2"], private_addresses=["192.168.1.1"],
                        updated_at=1234.5, ready_at=1200.25,
                        failure={"reason": "was slow", "since": 1100.0, "exit_code": 3},
                        attempts=4)
    store.add_instances([rec])
    assert store.get_instance(rec.instance_id) == rec
    assert store.list_instances("f") == [rec]


def test_add_duplicate_instance_writes_nothing_of_the_batch(store):
    make_infra(store, "d")
    store.add_instances([make_instance("d", 0)])
    with pytest.raises(AlreadyExists, match="instance 'd-web-0' already exists"):
        store.add_instances([make_instance("d", 1), make_instance("d", 0),
                             make_instance("d", 2)])
    assert [r.instance_id for r in store.list_instances("d")] == ["d-web-0"]


def test_add_duplicate_within_a_batch_is_refused(store):
    make_infra(store, "d")
    with pytest.raises(AlreadyExists):
        store.add_instances([make_instance("d", 1), make_instance("d", 1)])
    assert store.list_instances("d") == []


def test_instance_ids_are_unique_across_infrastructures(store):
    make_infra(store, "one")
    make_infra(store, "two")
    store.add_instances([make_instance("one", 0, instance_id="same")])
    with pytest.raises(AlreadyExists):
        store.add_instances([make_instance("two", 0, instance_id="same")])
    assert store.list_instances("two") == []


def test_add_instances_of_unknown_infrastructure_writes_nothing(store):
    make_infra(store, "real")
    with pytest.raises(NotFound, match="no infrastructure 'ghost'"):
        store.add_instances([make_instance("real", 0), make_instance("ghost", 0)])
    assert store.list_instances("real") == []
    with pytest.raises(NotFound):
        store.get_instance(make_instance("real", 0).instance_id)


@pytest.mark.parametrize("field, value, message", [
    ("state", "sleeping", "state must be one of pending, starting, ready"),
    ("intent", "maybe", "intent must be one of creating, created, dropping"),
    ("addresses", "10.0.0.1", "addresses must be a list of strings"),
    ("attempts", "2", "attempts must be an integer"),
    ("created_at", float("nan"), "created_at must be a finite number"),
    ("resource", ["x"], "resource must be a mapping"),
])
def test_bad_instance_record_is_refused(store, field, value, message):
    make_infra(store, "b")
    with pytest.raises(InvalidRecord, match=message):
        store.add_instances([make_instance("b", 0, **{field: value})])
    assert store.list_instances("b") == []


def test_instances_share_stored_implementations_but_keep_their_own(store):
    make_infra(store, "s")
    other = {**IMPL_WEB, "resource": {"type": "dummy", "image": "web-2"}}
    store.add_instances([make_instance("s", n, impl=IMPL_WEB if n % 2 else other)
                         for n in range(6)])
    for rec in store.list_instances("s"):
        n = int(rec.instance_id.rsplit("-", 1)[1])
        assert rec.implementation == (IMPL_WEB if n % 2 else other)


def test_stored_values_are_copies(store):
    make_infra(store, "copy")
    impl = {"type": "web", "resource": {"image": "a"}}
    rec = make_instance("copy", 0, impl=impl, addresses=["1.1.1.1"])
    store.add_instances([rec])
    impl["resource"]["image"] = "changed by the caller"
    rec.addresses.append("2.2.2.2")
    got = store.get_instance(rec.instance_id)
    got.implementation["resource"]["image"] = "changed by a reader"
    again = store.get_instance(rec.instance_id)
    assert again.implementation == {"type": "web", "resource": {"image": "a"}}
    assert again.addresses == ["1.1.1.1"]


def test_update_instance_compare_and_set(store):
    make_infra(store, "c")
    rec = make_instance("c", 0)
    store.add_instances([rec])
    new = store.update_instance(rec.instance_id, expected_version=1, state="ready",
                                intent=Intent.CREATED, addresses=["10.1.1.1"], ready_at=9.5)
    assert (new.version, new.state, new.intent) == (2, InstanceState.READY, Intent.CREATED)
    assert isinstance(new.state, InstanceState) and new.addresses == ["10.1.1.1"]
    assert new.implementation == IMPL_WEB
    assert store.get_instance(rec.instance_id) == new
    with pytest.raises(VersionConflict) as err:
        store.update_instance(rec.instance_id, expected_version=1, state="failed")
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert store.get_instance(rec.instance_id).state == InstanceState.READY


def test_update_instance_without_version_and_new_implementation(store):
    make_infra(store, "n")
    rec = make_instance("n", 0)
    store.add_instances([rec])
    store.update_instance(rec.instance_id, resource={"id": "r-9"})
    new = store.update_instance(rec.instance_id, implementation=IMPL_DB, failure=None)
    assert new.version == 3 and new.implementation == IMPL_DB
    assert new.resource == {"id": "r-9"}
    assert store.get_instance(rec.instance_id).implementation == IMPL_DB
    assert store.list_instances("n")[0].implementation == IMPL_DB


def test_update_unknown_instance_is_not_found(store):
    with pytest.raises(NotFound, match="no instance 'ghost'"):
        store.update_instance("ghost", state="ready")


@pytest.mark.parametrize("changes, message", [
    ({"instance_id": "x"}, "the instance_id of an instance cannot be changed"),
    ({"infra_id": "x"}, "the infra_id of an instance cannot be changed"),
    ({"colour": "red"}, "an instance has no field 'colour'"),
    ({"state": "sleeping"}, "state must be one of"),
    ({"ready_at": "soon"}, "ready_at must be a finite number"),
    ({"checked_at": "now"}, "checked_at must be a finite number"),
])
def test_bad_instance_change_is_refused(store, changes, message):
    make_infra(store, "b")
    rec = make_instance("b", 0)
    store.add_instances([rec])
    with pytest.raises(InvalidRecord, match=message):
        store.update_instance(rec.instance_id, **changes)
    assert store.get_instance(rec.instance_id).version == 1


def test_checked_at_is_none_until_set_and_changes_alone(store):
    make_infra(store, "k")
    rec = make_instance("k", 0, state=InstanceState.READY, intent=Intent.CREATED,
                        updated_at=100.0)
    store.add_instances([rec])
    assert store.get_instance(rec.instance_id).checked_at is None
    store.update_instances({rec.instance_id: {"checked_at": 150.5, "updated_at": 100.0}})
    got = store.list_instances("k")[0]
    assert (got.checked_at, got.updated_at, got.state, got.version) == \
        (150.5, 100.0, InstanceState.READY, 2)
    assert got.implementation == IMPL_WEB and store.get_instance(rec.instance_id) == got


def test_update_instances_batch(store):
    make_infra(store, "b")
    records = [make_instance("b", n) for n in range(5)]
    store.add_instances(records)
    store.update_instances({r.instance_id: {"state": "starting", "resource": {"n": i}}
                            for i, r in enumerate(records[:4])})
    listed = {r.instance_id: r for r in store.list_instances("b")}
    for i, rec in enumerate(records[:4]):
        got = listed[rec.instance_id]
        assert (got.state, got.resource, got.version) == ("starting", {"n": i}, 2)
    assert listed[records[4].instance_id].version == 1


def test_update_instances_with_unknown_id_changes_nothing(store):
    make_infra(store, "b")
    records = [make_instance("b", n) for n in range(2)]
    store.add_instances(records)
    with pytest.raises(NotFound, match="no instance 'ghost'"):
        store.update_instances({records[0].instance_id: {"state": "ready"},
                                "ghost": {"state": "ready"}})
    assert all(r.version == 1 and r.state == "pending" for r in store.list_instances("b"))


def test_update_instances_with_a_bad_change_changes_nothing(store):
    make_infra(store, "b")
    records = [make_instance("b", n) for n in range(2)]
    store.add_instances(records)
    with pytest.raises(InvalidRecord):
        store.update_instances({records[0].instance_id: {"state": "ready"},
                                records[1].instance_id: {"state": "bogus"}})
    assert all(r.version == 1 for r in store.list_instances("b"))


def test_delete_instances(store):
    make_infra(store, "d")
    records = [make_instance("d", n) for n in range(3)]
    store.add_instances(records)
    store.start_failure_timer("d", records[0].instance_id, 10.0)
    store.start_failure_timer("d", records[2].instance_id, 11.0)
    store.delete_instances([records[0].instance_id, records[1].instance_id, "unknown"])
    assert [r.instance_id for r in store.list_instances("d")] == [records[2].instance_id]
    assert store.get_failure_timers("d") == {records[2].instance_id: 11.0}
    with pytest.raises(NotFound):
        store.get_instance(records[0].instance_id)
    store.delete_instances([])   # nothing to do
    # a deleted id can be used again
    store.add_instances([records[0]])
    assert store.get_instance(records[0].instance_id).version == 1


def test_list_instances_of_unknown_infrastructure_is_not_found(store):
    with pytest.raises(NotFound, match="no infrastructure 'ghost'"):
        store.list_instances("ghost")


def test_other_store_sees_the_same_state(store, reopen):
    make_infra(store, "shared")
    store.add_instances([make_instance("shared", 0)])
    other = reopen(store)
    assert other.get_infrastructure("shared") == store.get_infrastructure("shared")
    other.update_instance(make_instance("shared", 0).instance_id, state="ready")
    assert store.list_instances("shared")[0].state == InstanceState.READY


# ====================================================================== scaling

def test_scaling_targets(store):
    make_infra(store, "s")
    assert store.get_scaling_targets("s") == {}
    store.set_scaling_target("s", "web", 3)
    store.set_scaling_target("s", "db", 1)
    store.set_scaling_target("s", "web", 5)
    assert store.get_scaling_targets("s") == {"web": 5, "db": 1}
    store.set_scaling_target("s", "web", None)
    store.set_scaling_target("s", "never-set", None)
    assert store.get_scaling_targets("s") == {"db": 1}


@pytest.mark.parametrize("count", [-1, 1.5, "3", True])
def test_bad_scaling_target_is_refused(store, count):
    make_infra(store, "s")
    with pytest.raises(InvalidRecord, match="a scaling target must be an integer >= 0"):
        store.set_scaling_target("s", "web", count)
    assert store.get_scaling_targets("s") == {}


def test_scaling_target_of_unknown_infrastructure(store):
    with pytest.raises(NotFound):
        store.set_scaling_target("ghost", "web", 1)


def test_scaling_requests_are_queued_in_order_and_taken_once(store):
    make_infra(store, "q")
    reqs = [ScalingRequest(infra_id="q", node_name="web", kind="create", count=2,
                           requested_at=1.0),
            ScalingRequest(infra_id="q", node_name="web", kind="destroy", count=1,
                           instance_id="abc", requested_at=2.0),
            ScalingRequest(infra_id="q", node_name="db", kind="destroy", count=1,
                           address="10.0.0.7", requested_at=3.0),
            ScalingRequest(infra_id="q", node_name="web", kind="set", count=4, requested_at=4.0)]
    for req in reqs:
        store.push_scaling_request(req)
    assert store.peek_scaling_requests("q") == reqs
    assert store.take_scaling_requests("q") == reqs
    assert store.take_scaling_requests("q") == []
    assert store.peek_scaling_requests("q") == []


def test_settling_records_targets_and_removes_only_the_requests_taken(store):
    make_infra(store, "q")
    store.set_scaling_target("q", "db", 1)
    first = [ScalingRequest(infra_id="q", node_name="web", kind="create", count=2,
                            requested_at=1.0),
             ScalingRequest(infra_id="q", node_name="web", kind="set", count=3,
                            requested_at=2.0)]
    for req in first:
        store.push_scaling_request(req)
    seen = store.peek_scaling_requests("q")
    later = ScalingRequest(infra_id="q", node_name="web", kind="set", count=6,
                           requested_at=3.0)
    store.push_scaling_request(later)              # arrives between peek and settle
    store.settle_scaling_requests("q", len(seen), {"web": 3, "db": None})
    assert store.get_scaling_targets("q") == {"web": 3}
    assert store.peek_scaling_requests("q") == [later]
    store.settle_scaling_requests("q", 5, {})      # more than are queued: the queue empties
    assert store.peek_scaling_requests("q") == []
    assert store.get_scaling_targets("q") == {"web": 3}


@pytest.mark.parametrize("taken, targets, message", [
    (-1, {}, "the number of requests taken must be an integer >= 0, not -1"),
    (1, {"web": -3}, "a scaling target must be an integer >= 0 or None, not -3"),
    (1, {"": 2}, "a node name must be a non-empty string"),
])
def test_bad_settlement_changes_nothing(store, taken, targets, message):
    make_infra(store, "q")
    req = ScalingRequest(infra_id="q", node_name="web", kind="create", requested_at=1.0)
    store.push_scaling_request(req)
    with pytest.raises(InvalidRecord, match=message):
        store.settle_scaling_requests("q", taken, targets)
    assert store.peek_scaling_requests("q") == [req]
    assert store.get_scaling_targets("q") == {}


def test_settling_for_unknown_infrastructure(store):
    with pytest.raises(NotFound):
        store.settle_scaling_requests("ghost", 0, {"web": 1})


@pytest.mark.parametrize("fields, message", [
    ({"kind": "grow"}, "a scaling request's kind must be one of create, destroy, set"),
    ({"kind": "create", "count": -2}, "count must be >= 0"),
    ({"kind": "create", "node_name": ""}, "node_name must be a non-empty string"),
])
def test_bad_scaling_request_is_refused(store, fields, message):
    make_infra(store, "q")
    values = {"infra_id": "q", "node_name": "web", **fields}
    with pytest.raises(InvalidRecord, match=message):
        store.push_scaling_request(ScalingRequest(**values))
    assert store.peek_scaling_requests("q") == []


def test_scaling_request_for_unknown_infrastructure(store):
    with pytest.raises(NotFound):
        store.push_scaling_request(ScalingRequest(infra_id="ghost", node_name="w", kind="set"))


# ====================================================================== failure timers

def test_failure_timer_keeps_its_first_start(store):
    make_infra(store, "t")
    assert store.start_failure_timer("t", "i1", 100.0) == 100.0
    assert store.start_failure_timer("t", "i1", 150.0) == 100.0
    assert store.start_failure_timer("t", "i2", 120.5) == 120.5
    assert store.get_failure_timers("t") == {"i1": 100.0, "i2": 120.5}
    store.clear_failure_timer("t", "i1")
    store.clear_failure_timer("t", "not-running")
    assert store.get_failure_timers("t") == {"i2": 120.5}
    assert store.start_failure_timer("t", "i1", 200.0) == 200.0


def test_failure_timer_of_unknown_infrastructure(store):
    with pytest.raises(NotFound):
        store.start_failure_timer("ghost", "i1", 1.0)


# ====================================================================== leases

def test_lease_is_exclusive_renewable_and_releasable(store):
    assert store.acquire_lease("maintain:x", "alice", 30)
    assert not store.acquire_lease("maintain:x", "bob", 30)
    holder, expires = store.lease_holder("maintain:x")
    assert holder == "alice" and expires > time.time() + 20
    assert store.acquire_lease("maintain:x", "alice", 60)      # renewal
    assert store.lease_holder("maintain:x")[1] > time.time() + 50
    assert not store.release_lease("maintain:x", "bob")
    assert store.lease_holder("maintain:x")[0] == "alice"
    assert store.release_lease("maintain:x", "alice")
    assert store.lease_holder("maintain:x") is None
    assert store.acquire_lease("maintain:x", "bob", 30)
    assert store.acquire_lease("maintain:y", "alice", 30)      # another lease


def test_expired_lease_can_be_taken_over(store):
    assert store.acquire_lease("short", "dead-holder", 0.2)
    deadline = time.monotonic() + 10
    while store.lease_holder("short") is not None:
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.02)
    assert store.acquire_lease("short", "successor", 30)
    assert store.lease_holder("short")[0] == "successor"
    assert not store.release_lease("short", "dead-holder")


@pytest.mark.parametrize("ttl", [0, -1, "10"])
def test_bad_lease_ttl_is_refused(store, ttl):
    with pytest.raises(InvalidRecord, match="a lease's ttl must be a positive number"):
        store.acquire_lease("x", "me", ttl)
    assert store.lease_holder("x") is None


# ====================================================================== events

def test_events_get_dense_positions_and_read_from_a_position(store):
    make_infra(store, "e")
    first = store.append_event(Event(type="infra.created", infra_id="e", time=1.0))
    positions = store.append_events([
        Event(type="node.creating", infra_id="e", node_name="web", instance_id=f"w{n}",
              time=2.0 + n, details={"attempt": 1}) for n in range(5)])
    assert first == 1 and positions == [2, 3, 4, 5, 6]
    events = store.read_events("e")
    assert [e.position for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[1] == Event(type="node.creating", infra_id="e", node_name="web",
                              instance_id="w0", time=2.0, details={"attempt": 1}, position=2)
    assert [e.position for e in store.read_events("e", after=4)] == [5, 6]
    assert [e.position for e in store.read_events("e", after=1, limit=2)] == [2, 3]
    assert store.read_events("e", after=6) == []
    assert store.append_events([]) == []


def test_the_last_event_is_read_alone(store):
    make_infra(store, "t")
    make_infra(store, "other")
    assert store.last_event("t") is None
    store.append_events([Event(type=f"e{n}", infra_id="t", time=float(n)) for n in range(40)])
    store.append_event(Event(type="elsewhere", infra_id="other"))
    last = store.last_event("t")
    assert last == Event(type="e39", infra_id="t", time=39.0, position=40)
    assert last == store.read_events("t")[-1]
    store.append_event(Event(type="after", infra_id="t", details={"password": "x"}))
    assert (store.last_event("t").type, store.last_event("t").position) == ("after", 41)
    assert store.last_event("t").details == {"password": "***"}
    with pytest.raises(NotFound, match="no infrastructure 'ghost'"):
        store.last_event("ghost")


def test_events_of_several_infrastructures_in_one_batch(store):
    make_infra(store, "a")
    make_infra(store, "b")
    store.append_event(Event(type="x", infra_id="a"))
    positions = store.append_events([Event(type="y", infra_id="b"), Event(type="z", infra_id="a"),
                                     Event(type="w", infra_id="b")])
    assert positions == [1, 2, 2]
    assert [e.type for e in store.read_events("a")] == ["x", "z"]
    assert [e.type for e in store.read_events("b")] == ["y", "w"]


def test_event_details_are_redacted_before_storing(store):
    make_infra(store, "r")
    store.append_event(Event(type="node.failed", infra_id="r",
                             details={"reason": "auth failed", "password": "hunter2",
                                      "auth_data": {"user": "u", "key": "k"}}))
    details = store.read_events("r")[0].details
    assert details == {"reason": "auth failed", "password": "***", "auth_data": "***"}


def test_events_of_unknown_infrastructure(store):
    make_infra(store, "real")
    with pytest.raises(NotFound, match="no infrastructure 'ghost'"):
        store.append_events([Event(type="x", infra_id="real"), Event(type="x", infra_id="ghost")])
    assert store.read_events("real") == []
    with pytest.raises(NotFound):
        store.read_events("ghost")


@pytest.mark.parametrize("after, limit, message", [
    (-1, 10, "after must be an integer >= 0"), (0, 0, "limit must be an integer >= 1")])
def test_bad_event_read_is_refused(store, after, limit, message):
    make_infra(store, "e")
    with pytest.raises(InvalidRecord, match=message):
        store.read_events("e", after, limit)


def test_bad_event_is_refused(store):
    make_infra(store, "e")
    with pytest.raises(InvalidRecord, match="event x is not JSON-able"):
        store.append_event(Event(type="x", infra_id="e", details={"when": object()}))
    with pytest.raises(InvalidRecord, match="type must be a non-empty string"):
        store.append_event(Event(type="", infra_id="e"))
    assert store.read_events("e") == []


def test_integers_beyond_64_bits_and_unicode_round_trip(store):
    big = {"huge": 2 ** 70, "negative": -(2 ** 65), "id": "12345678901234567890123",
           "text": "árvíztűrő tükörfúrógép ✓"}
    make_infra(store, "big", description={"variables": big})
    store.add_instances([make_instance("big", 0, resource=big, impl={"type": "w", **big})])
    assert store.get_infrastructure("big").description == {"variables": big}
    rec = store.list_instances("big")[0]
    assert rec.resource == big and rec.implementation == {"type": "w", **big}
    assert type(rec.resource["huge"]) is int


def test_a_resource_with_an_impl_key_does_not_confuse_reads(store):
    make_infra(store, "k")
    store.add_instances([make_instance("k", 0, resource={"impl": "0123abcd", "x": 1})])
    store.update_instance(make_instance("k", 0).instance_id, implementation=IMPL_DB)
    rec = store.get_instance(make_instance("k", 0).instance_id)
    assert rec.resource == {"impl": "0123abcd", "x": 1} and rec.implementation == IMPL_DB


# ====================================================================== rounds

def test_a_round_writes_new_changed_deleted_and_events_in_order(store):
    make_infra(store, "r")
    store.add_instances([make_instance("r", 0), make_instance("r", 1)])
    store.append_event(Event(type="infra.building", infra_id="r"))
    positions = store.write_round(
        new=[make_instance("r", 2)],
        changes={"r-web-0": {"state": InstanceState.READY, "intent": Intent.CREATED},
                 "r-web-2": {"addresses": ["10.0.0.2"]}},   # added in the same round
        deleted=["r-web-1"],
        events=[Event(type="node.ready", infra_id="r", instance_id="r-web-0"),
                Event(type="node.dropped", infra_id="r", instance_id="r-web-1")])
    assert positions == [2, 3]
    kept = {i.instance_id: i for i in store.list_instances("r")}
    assert sorted(kept) == ["r-web-0", "r-web-2"]
    assert kept["r-web-0"].state is InstanceState.READY
    assert kept["r-web-2"].addresses == ["10.0.0.2"]
    assert [e.type for e in store.read_events("r")] == ["infra.building", "node.ready",
                                                         "node.dropped"]
    assert store.write_round() == []


def test_a_round_that_fails_in_its_last_part_writes_nothing_where_the_store_has_transactions(
        store):
    """The ready state of an instance and the node.ready event that tells it: with
    transactions (SQLite, PostgreSQL) both or neither; the others say so."""
    make_infra(store, "t")
    store.add_instances([make_instance("t", 0)])
    with pytest.raises(NotFound, match="no infrastructure 'ghost'"):
        store.write_round(new=[make_instance("t", 1)],
                          changes={"t-web-0": {"state": InstanceState.READY}},
                          events=[Event(type="node.ready", infra_id="t"),
                                  Event(type="node.ready", infra_id="ghost")])
    if not store.atomic_rounds:
        assert type(store).__name__ in ("MemoryStore", "RedisStore")
        return
    [only] = store.list_instances("t")
    assert only.instance_id == "t-web-0" and only.state is InstanceState.PENDING
    assert store.read_events("t") == []
