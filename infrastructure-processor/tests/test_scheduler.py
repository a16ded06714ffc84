"""The scheduler: dependency order without level barriers, intent first, limits, retries,
replacement, rollback, cancellation, resumption, failed drops."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import FAST, World, description, instructions
from endpoints import SimCloud, SimComposer

from occo.infobroker import Event, InstanceRecord, InstanceState, Intent, NotFound
from occo.infraprocessor import ProcessingConfig, Processor
from occo.util import CANCEL_REQUESTED
from occo.util.instructions import DropInfrastructure


def created_at(cloud: SimCloud) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for when, node, _ in cloud.created_order:
        out.setdefault(node, []).append(when)
    return out


def test_three_tier_build_is_ready_in_dependency_order(world):
    outcome = world.build({"db": 1, "app": 5, "lb": 1}, [("app", "db"), ("lb", "app")])
    assert outcome["status"] == "ready" and outcome["ready"] == 7
    recs = world.store.list_instances("infra-1")
    assert len(recs) == 7 and all(r.state == InstanceState.READY for r in recs)
    assert all(r.intent == Intent.CREATED for r in recs)
    times = created_at(world.cloud)
    ready_at = {r.node_name: r.ready_at for r in recs}
    db_ready = min(r.ready_at for r in recs if r.node_name == "db")
    app_ready = max(r.ready_at for r in recs if r.node_name == "app")
    assert min(times["app"]) > 0 and db_ready <= min(r.created_at for r in recs
                                                     if r.node_name == "app")
    assert app_ready <= min(r.created_at for r in recs if r.node_name == "lb")
    assert set(ready_at) == {"db", "app", "lb"}


def test_no_barrier_between_levels():
    """d waits only for c; it must not wait for the slow a, which is on the same level as c."""
    cloud = SimCloud(latency={"a": 1.0, "c": 0.01, "d": 0.01, "b": 0.01})
    w = World(cloud=cloud)
    try:
        outcome = w.build({"a": 1, "b": 1, "c": 1, "d": 1}, [("b", "a"), ("d", "c")])
        assert outcome["status"] == "ready"
        times = created_at(cloud)
        a_running = times["a"][0] + 1.0
        assert times["d"][0] < a_running, "d started only after the unrelated a was ready"
    finally:
        w.close()


def test_intent_is_recorded_before_any_cloud_call():
    seen = []
    w = World()

    def check(spec):
        rec = w.store.get_instance(spec["instance_id"])
        seen.append((rec.intent, rec.state))

    w.cloud.on_create = check
    try:
        assert w.build({"web": 4})["status"] == "ready"
        assert seen and all(s == (Intent.CREATING, InstanceState.PENDING) for s in seen)
        kinds = [e.type for e in w.events()]
        assert kinds.count("node.creating") == 4 and kinds.count("node.ready") == 4
        assert kinds.index("node.creating") < kinds.index("node.ready")
    finally:
        w.close()


def test_waiting_instances_are_recorded_while_their_dependencies_start():
    w = World(cloud=SimCloud(latency={"db": 0.5}))
    done, seen = threading.Event(), []

    def watch():  # looks at the store from another thread while the build runs
        deadline = time.monotonic() + 10
        while not done.is_set() and time.monotonic() < deadline:
            try:
                apps = w.store.list_instances("infra-1", "app")
            except NotFound:  # the build has not stored the infrastructure yet
                apps = []
            if len(apps) == 20:
                db = w.store.list_instances("infra-1", "db")
                seen.append(([str(r.state) for r in db],
                             {(str(r.intent), str(r.state), r.resource) for r in apps},
                             [e.type for e in w.events() if e.node_name == "app"]))
                return
            done.wait(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcome = w.build({"db": 1, "app": 20}, [("app", "db")])
        assert outcome["status"] == "ready" and outcome["ready"] == 21
        db_states, app_records, app_events = seen[0]
        assert db_states == ["starting"], "the app records were there before db was ready"
        assert app_records == {("creating", "pending", None)} and app_events == []
        recs = w.store.list_instances("infra-1", "app")
        assert len(recs) == 20 and all(r.intent == Intent.CREATED for r in recs)
        db_ready = w.store.list_instances("infra-1", "db")[0].ready_at
        assert all(r.created_at >= db_ready for r in recs), "created_at: the cloud create"
        kinds = [e.type for e in w.events()]
        assert kinds.count("node.creating") == 21, "announced once each, when admitted"
    finally:
        done.set()
        watcher.join(10)
        w.close()


def test_recorded_waiting_instances_are_deleted_when_their_dependency_fails():
    cloud = SimCloud(latency={"db": 0.3}, fail_nodes={"db": 5})
    w = World(config=_with(FAST, max_attempts=1), cloud=cloud)
    try:
        outcome = w.build({"db": 1, "app": 30}, [("app", "db")])
        assert outcome["status"] == "failed"
        assert w.store.list_instances("infra-1") == [], "no record of an app never created"
        assert not any(e.type == "node.creating" and e.node_name == "app" for e in w.events())
        assert {r.node for r in cloud.alive()} == set()
    finally:
        w.close()


def test_concurrency_is_bounded_per_endpoint():
    config = _with(FAST, max_parallel=3, batch_size=1)
    cloud = SimCloud(call_delay=0.02)
    w = World(config=config, cloud=cloud)
    try:
        assert w.build({"web": 12})["status"] == "ready"
        assert 1 < cloud.max_inflight <= 3
    finally:
        w.close()


def _with(config: ProcessingConfig, **changes) -> ProcessingConfig:
    from dataclasses import replace
    return replace(config, **changes)


def test_throttling_is_retried_with_the_same_instance_id():
    cloud = SimCloud(throttle={"web": 2})
    w = World(cloud=cloud)
    try:
        outcome = w.build({"web": 1})
        assert outcome["status"] == "ready"
        assert cloud.calls["create_nodes"] == 3
        assert len(cloud.resources) == 1 and "web-0" in cloud.resources
    finally:
        w.close()


def test_retries_are_bounded_and_a_failed_build_is_rolled_back():
    cloud = SimCloud(throttle={"web": 100})
    w = World(config=_with(FAST, call_retries=2), cloud=cloud)
    try:
        outcome = w.build({"db": 2, "web": 1}, [])
        assert outcome["status"] == "failed"
        assert cloud.calls["create_nodes"] >= 3
        assert "creating the node failed: slow down" in outcome["failures"][0]["reason"]
        assert cloud.alive() == [], "every resource of the failed build is dropped"
        assert w.store.list_instances("infra-1") == []
    finally:
        w.close()


def test_a_failed_resource_is_replaced_by_a_new_instance():
    cloud = SimCloud(fail_nodes={"web": 2})
    w = World(cloud=cloud)
    try:
        outcome = w.build({"web": 2})
        assert outcome["status"] == "ready" and outcome["replaced"] == 2
        alive = cloud.alive()
        assert len(alive) == 2 and all(not r.fail for r in alive)
        ids = {r.instance_id for r in w.store.list_instances("infra-1")}
        assert ids == {r.instance_id for r in alive}
        assert [e.type for e in w.events()].count("node.failed") == 2
    finally:
        w.close()


def test_replacements_are_bounded():
    cloud = SimCloud(fail_nodes={"web": 10})
    w = World(config=_with(FAST, max_attempts=3), cloud=cloud)
    try:
        outcome = w.build({"web": 1})
        assert outcome["status"] == "failed"
        assert len(cloud.resources) == 3 and cloud.alive() == []
    finally:
        w.close()


def test_keep_on_failure_keeps_what_is_ready():
    w = World(composer=SimComposer(broken_nodes={"lb"}))
    try:
        outcome = w.build({"db": 1, "lb": 1}, [("lb", "db")], keep_on_failure=True)
        assert outcome["status"] == "failed"
        assert "undefined name in lb's template" in outcome["failures"][0]["reason"]
        kept = w.store.list_instances("infra-1")
        assert [r.node_name for r in kept] == ["db"] and kept[0].state == InstanceState.READY
        assert [r.node for r in w.cloud.alive()] == ["db"]
    finally:
        w.close()


def test_a_node_waiting_for_nothing_ready_fails_clearly(world):
    desc = description({"web": 1}, [])
    infra_id = world.add_infra(desc)
    scope, _, create = instructions(infra_id, desc)
    bad = create.__class__(infra_id=infra_id, instance_id="w", node=create.node,
                           implementation=create.implementation, waits_for=("db",))
    outcome = world.processor.execute(infra_id, [scope.to_dict(), bad.to_dict()])
    assert outcome["status"] == "failed"
    assert "waits for db, which has no ready instance" in outcome["failures"][0]["reason"]


def test_cancellation_starts_nothing_new_and_rolls_back():
    started = threading.Event()
    cloud = SimCloud(latency={"db": 0.3})
    w = World(cloud=cloud)
    cloud.on_create = lambda spec: started.set()
    try:
        desc = description({"db": 1, "web": 3}, [("web", "db")])
        infra_id = w.add_infra(desc)
        result = {}
        runner = threading.Thread(target=lambda: result.update(w.processor.execute(
            infra_id, [i.to_dict() for i in instructions(infra_id, desc)])))
        runner.start()
        assert started.wait(5)
        assert w.processor.cancel(infra_id)
        runner.join(10)
        assert result["status"] == "cancelled"
        assert "web" not in {n for _, n, _ in cloud.created_order}
        assert cloud.alive() == [] and w.store.list_instances(infra_id) == []
    finally:
        w.close()


def test_a_cancel_appended_to_the_log_by_another_writer_stops_the_run():
    """The cancel of another worker (the enactor on another machine) is an event in the
    store; the run is never told by a call. A cancel left in the log before the run began
    is not this run's: it builds through it."""
    started = threading.Event()
    cloud = SimCloud(latency={"db": 2.5})   # the store is looked at once a second
    w = World(cloud=cloud)
    cloud.on_create = lambda spec: started.set()
    try:
        desc = description({"db": 1, "web": 3}, [("web", "db")])
        infra_id = w.add_infra(desc)
        w.store.append_event(Event(type=CANCEL_REQUESTED, infra_id=infra_id))   # stale
        result = {}
        runner = threading.Thread(target=lambda: result.update(w.processor.execute(
            infra_id, [i.to_dict() for i in instructions(infra_id, desc)])))
        runner.start()
        assert started.wait(5)
        w.store.append_event(Event(type=CANCEL_REQUESTED, infra_id=infra_id))
        runner.join(10)
        assert result["status"] == "cancelled"
        assert "web" not in {n for _, n, _ in cloud.created_order}
        assert cloud.alive() == [] and w.store.list_instances(infra_id) == []
        again = w.processor.execute(infra_id, [i.to_dict() for i in instructions(infra_id, desc)])
        assert again["status"] == "ready" and again["ready"] == 4
    finally:
        w.close()


def test_an_interrupted_run_is_resumed_without_duplicates(world):
    desc = description({"web": 3}, [])
    infra_id = world.add_infra(desc)
    impl = desc.node("web").implementations[0].to_dict()
    # a previous run recorded two intents and got a resource for one, then died
    world.cloud.create_nodes([{"instance_id": "old-1", "node_name": "web"}])
    world.store.add_instances([
        InstanceRecord(instance_id="old-1", infra_id=infra_id, node_name="web",
                       implementation=impl, resource={"instance_id": "old-1", "type": "sim"},
                       state=InstanceState.STARTING),
        InstanceRecord(instance_id="old-2", infra_id=infra_id, node_name="web",
                       implementation=impl)])
    ins = instructions(infra_id, desc)[:3]  # and one more wanted now
    outcome = world.processor.execute(infra_id, [i.to_dict() for i in ins])
    assert outcome["status"] == "ready"
    ids = sorted(r.instance_id for r in world.store.list_instances(infra_id))
    assert ids == ["old-1", "old-2", "web-0"]
    assert sorted(r.instance_id for r in world.cloud.alive()) == ids


def test_failed_drops_are_retried_and_reported_never_ignored():
    cloud = SimCloud(drop_errors=100)
    w = World(config=_with(FAST, drop_retries=2), cloud=cloud)
    try:
        assert w.build({"web": 2})["status"] == "ready"
        outcome = w.processor.execute("infra-1", [DropInfrastructure(infra_id="infra-1")
                                                  .to_dict()])
        assert outcome["status"] == "destroy_failed"
        assert len(outcome["drop_failures"]) == 2
        assert cloud.calls["drop_nodes"] >= 3
        left = w.store.list_instances("infra-1")
        assert len(left) == 2 and all("drop failed" in r.failure["reason"] for r in left)
        assert [e.type for e in w.events()].count("node.drop_failed") == 2
        cloud.drop_errors = 0
        again = w.processor.execute("infra-1", [DropInfrastructure(infra_id="infra-1")
                                                .to_dict()])
        assert again["status"] == "destroyed" and w.store.list_instances("infra-1") == []
    finally:
        w.close()


def test_a_second_execute_of_a_busy_infrastructure_waits_then_resumes():
    """As a message redelivered after a lost connection does: no work is done twice."""
    cloud = SimCloud(latency={"db": 0.3})
    w = World(cloud=cloud)
    try:
        desc = description({"db": 1}, [])
        infra_id = w.add_infra(desc)
        created = threading.Event()
        cloud.on_create = lambda spec: created.set()
        first: dict = {}
        request = [i.to_dict() for i in instructions(infra_id, desc)]
        runner = threading.Thread(target=lambda: first.update(w.processor.execute(
            infra_id, request, request_id="r1")))
        runner.start()
        assert created.wait(5)
        again = w.processor.execute(infra_id, request, request_id="r1")
        runner.join(10)
        assert first["status"] == "ready" and first["created"] == first["ready"] == 1
        # the same request: it answers for the whole of it (what the first run did)
        assert again["status"] == "ready" and again["created"] == again["ready"] == 1
        later = w.processor.execute(infra_id, request, request_id="r1")
        assert later["created"] == later["ready"] == 1, "a third delivery: still the whole"
        other = w.processor.execute(infra_id, request, request_id="r2")
        assert other["status"] == "ready" and other["created"] == other["ready"] == 0
        unnamed = w.processor.execute(infra_id, request)
        assert unnamed["created"] == unnamed["ready"] == 0
        assert len(cloud.resources) == 1
    finally:
        w.close()


def test_a_processor_told_not_to_wait_refuses_a_busy_infrastructure():
    from occo.infraprocessor import InfrastructureBusy
    cloud = SimCloud(latency={"db": 0.5})
    w = World(cloud=cloud)
    impatient = Processor(w.store, cloud=w.transport.client("cloudhandler"),
                          composer=w.transport.client("servicecomposer"), config=FAST, wait=0)
    try:
        desc = description({"db": 1}, [])
        infra_id = w.add_infra(desc)
        created = threading.Event()
        cloud.on_create = lambda spec: created.set()
        runner = threading.Thread(target=impatient.execute, args=(
            infra_id, [i.to_dict() for i in instructions(infra_id, desc)]))
        runner.start()
        assert created.wait(5)
        with pytest.raises(InfrastructureBusy, match="already being processed here"):
            impatient.execute(infra_id, [])
        runner.join(10)
    finally:
        w.close()
