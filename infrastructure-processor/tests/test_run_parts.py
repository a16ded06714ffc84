"""The run's parts (intake, creating, observing, failing, dropping) alone: a Run on a
memory store, endpoints whose calls stay out until the test finishes them, and a clock
the test moves. Each test calls one part and looks at the slots, the calls sent and the
store's records and events."""

from __future__ import annotations

import dataclasses
import random
import threading
from concurrent.futures import Future

import pytest
from conftest import FAST, description

from occo.infobroker import InfraRecord, InstanceState, Intent, MemoryStore
from occo.infraprocessor._run import Run
from occo.infraprocessor._slots import Phase, Slot
from occo.util import InfraStatus, RunScope
from occo.util.comm import CallError, Client, NodeStatus, ResourceState

ENDPOINT = "sim|e1"


class HeldClient(Client):
    """Calls stay out until the test finishes their futures; ``limits`` is not offered."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.sent: list[tuple[str, dict, Future]] = []

    def submit(self, method, **params):
        future: Future = Future()
        self.sent.append((method, params, future))
        return future

    def call(self, method, timeout=None, **params):
        raise LookupError(f"endpoint {self.endpoint!r} has no method {method!r}")

    def names(self) -> list[str]:
        return [m for m, _, _ in self.sent]


class Clock:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


class Harness:
    def __init__(self, store: MemoryStore | None = None, **config) -> None:
        self.store = store or MemoryStore()
        if store is None:
            self.store.create_infrastructure(InfraRecord(infra_id="i", name="n",
                                                         status=InfraStatus.BUILDING))
        self.cloud, self.composer = HeldClient("cloudhandler"), HeldClient("servicecomposer")
        self.clock = Clock()
        self.run = Run(store=self.store, cloud=self.cloud, composer=self.composer,
                       config=dataclasses.replace(FAST, **config), infra_id="i",
                       keep_on_failure=False, cancel=threading.Event(), buckets={},
                       rng=random.Random(1), clock=self.clock)
        desc = description({"db": 1, "web": 2}, [("web", "db")])
        self.run.intake.start([RunScope.of(desc, "i")])

    def slot(self, name="web", phase=Phase.QUEUED, iid=None, **fields) -> Slot:
        slot = Slot(instance_id=iid or f"{name}-{len(self.run.table.by_id)}", node_name=name,
                    endpoint=ENDPOINT, phase=phase,
                    implementation={"resource": {"type": "sim", "endpoint": "e1"}},
                    **fields)
        self.run.add(slot)
        return slot

    def recorded(self, name="web", phase=Phase.STARTING, **fields) -> Slot:
        """A slot whose record is in the store and whose create reached the cloud."""
        slot = self.slot(name, phase, ref={"instance_id": "r"}, touched=True, **fields)
        self.run.creating.record(slot)
        self.run.ledger.flush()
        slot.ref = {"instance_id": slot.instance_id}
        return slot

    def events(self) -> list[str]:
        return [e.type for e in self.store.read_events("i")]

    def finish(self, client: HeldClient, result) -> None:
        """Finish the oldest call still out and run its handler, as the loop would."""
        for _, _, future in client.sent:
            if not future.done():
                future.set_result(result)
                break
        self.run.calls.take(0)


@pytest.fixture
def h():
    return Harness()


# ------------------------------------------------------------------ dropping

def test_a_slot_never_recorded_or_never_at_the_cloud_is_dropped_without_a_call(h):
    unrecorded = h.slot()
    h.run.dropping.queue_drop(unrecorded, "not started")
    recorded = h.slot()
    h.run.creating.record(recorded)
    h.run.ledger.flush()
    h.run.dropping.queue_drop(recorded, "not started")
    h.run.ledger.flush()
    assert unrecorded.phase is recorded.phase is Phase.DROPPED
    assert h.store.list_instances("i") == [] and h.cloud.sent == []


def test_a_drop_writes_its_intent_first_and_a_failed_drop_is_retried_then_reported():
    h = Harness(drop_retries=1)
    slot = h.recorded()
    h.run.dropping.queue_drop(slot, "scaled down")
    h.run.dropping.admit_drops()
    assert slot.phase is Phase.DROP_RECORDING and h.cloud.sent == []
    h.run.ledger.flush()
    assert h.store.get_instance(slot.instance_id).intent is Intent.DROPPING
    h.run.dropping.dispatch()
    assert h.cloud.names() == ["drop_nodes"] and slot.phase is Phase.DROPPING
    assert h.cloud.sent[0][1]["refs"] == [{"instance_id": slot.instance_id}]
    h.finish(h.cloud, [{"error": {"message": "the cloud said no", "retryable": True}}])
    assert slot.phase is Phase.DROP_QUEUED and slot.retries == 1
    assert slot.not_before > h.clock.at                   # waits out its backoff
    h.clock.at = slot.not_before
    h.run.end_backoffs()
    h.run.dropping.admit_drops()
    h.run.dropping.dispatch()
    h.finish(h.cloud, [{"error": {"message": "the cloud said no again"}}])
    h.run.ledger.flush()
    assert slot.phase is Phase.DROP_FAILED
    assert h.run.drop_failures == [{"node": "web", "instance_id": slot.instance_id,
                                    "reason": "the cloud said no again"}]
    kept = h.store.get_instance(slot.instance_id)
    assert kept.failure["reason"] == "drop failed: the cloud said no again"
    assert h.events().count("node.dropping") == 1 and h.events()[-1] == "node.drop_failed"


# ------------------------------------------------------------------ failing

def test_a_failed_instance_is_replaced_after_a_backoff_while_attempts_remain(h):
    slot = h.recorded()
    h.run.failing.fail(slot, "the cloud reports the node failed", replaceable=True)
    [fresh] = [s for s in h.run.table.by_id.values() if s is not slot]
    assert fresh.attempt == 2 and fresh.reason == f"replaces {slot.instance_id}"
    assert fresh.phase is Phase.QUEUED and fresh.not_before > h.clock.at
    assert slot.phase is Phase.DROP_QUEUED and h.run.counts["replaced"] == 1
    assert h.run.stopping is None


def test_the_last_attempt_failing_stops_the_run_and_rolls_back_what_it_made():
    h = Harness(max_attempts=2)
    made = h.recorded("db", Phase.READY)
    waiting = h.slot("web", Phase.WAITING, waits_for=("db",))
    last = h.recorded("web", attempt=2)
    h.run.failing.fail(last, "health check did not pass", replaceable=True)
    assert h.run.stopping is InfraStatus.FAILED
    assert h.run.failures == [{"node": "web", "instance_id": last.instance_id,
                               "reason": "health check did not pass"}]
    assert waiting.phase is Phase.DROPPED                 # never recorded: nothing to drop
    assert made.phase is last.phase is Phase.DROP_QUEUED  # rolled back
    assert len(h.run.table.by_id) == 3                    # no replacement


def test_a_slot_waiting_for_a_node_that_can_never_be_ready_fails_the_run(h):
    h.slot("web", Phase.WAITING, waits_for=("db",))
    h.run.failing.check_stall()
    assert h.run.stopping is InfraStatus.FAILED
    assert h.run.failures[0]["reason"] == "waits for db, which has no ready instance"


# ------------------------------------------------------------------ creating

def test_a_retryable_call_failure_is_retried_after_a_backoff_and_then_fails():
    h = Harness(call_retries=1, max_attempts=1)
    slot = h.recorded(phase=Phase.CREATING)
    h.run.creating.call_failed(slot, CallError(message="throttled", retryable=True),
                               "creating the node")
    assert slot.phase is Phase.QUEUED and slot.retries == 1 and slot.not_before > h.clock.at
    h.run.creating.call_failed(slot, CallError(message="throttled", retryable=True),
                               "creating the node")
    assert h.run.failures[0]["reason"] == "creating the node failed: throttled"


def test_a_waiting_slot_is_admitted_when_what_it_waits_for_is_ready_and_rendered_first(h):
    db = h.slot("db", Phase.QUEUED)
    web = h.slot("web", Phase.WAITING, waits_for=("db",))
    h.run.progress.planned("db")
    h.run.progress.planned("web")
    h.run.creating.admit_creates()
    assert db.phase is Phase.RECORDING and web.phase is Phase.WAITING
    h.run.ledger.flush()
    h.run.creating.dispatch()
    assert h.composer.names() == ["resolve_many"] and h.cloud.sent == []
    [request] = h.composer.sent[0][1]["requests"]
    assert request["node"]["name"] == "db" and request["infra_name"] == "test"
    h.run.progress.became_ready("db")
    h.run.creating.admit_creates()
    assert web.phase is Phase.RECORDING and web.since == h.clock.at


# ------------------------------------------------------------------ observing

def test_a_running_node_has_its_addresses_read_and_its_start_latency_learned(h):
    slot = h.recorded(phase=Phase.STARTING, since=h.clock.at)
    h.clock.at += 4.0
    running: list[Slot] = []
    assert h.run.observing.cloud_says(slot, NodeStatus(ResourceState.RUNNING), h.clock.at,
                                      running)
    h.run.observing.read_addresses(running)
    assert slot.phase is Phase.ADDRESSING and h.cloud.names() == ["get_addresses"]
    assert h.run.observing.start_latency.get(ENDPOINT) == pytest.approx(4.0)
    h.finish(h.cloud, {slot.instance_id: {"addresses": ["10.0.0.7"], "checkable": True}})
    assert slot.phase is Phase.CHECKING
    h.run.ledger.flush()
    assert h.store.get_instance(slot.instance_id).addresses == ["10.0.0.7"]


def test_a_node_not_running_by_the_create_timeout_fails_and_is_replaced(h):
    slot = h.recorded(phase=Phase.STARTING, since=h.clock.at)
    h.clock.at += FAST.create_timeout + 1
    h.run.observing.poll_at(slot, h.clock.at)
    h.run.observing.poll()
    assert h.cloud.names() == ["get_states"]
    h.finish(h.cloud, {slot.instance_id: {"state": "pending"}})
    assert slot.phase is Phase.DROP_QUEUED
    assert slot.failure == "not running after 5 s (create timeout)"
    assert h.run.counts["replaced"] == 1


def test_an_unhealthy_node_is_looked_at_again_until_the_health_timeout(h):
    slot = h.recorded(phase=Phase.CHECKING, since=h.clock.at)
    h.run.observing.poll_at(slot, h.clock.at)
    h.run.observing.poll()
    assert h.composer.names() == ["check_health"]
    h.finish(h.composer, {slot.instance_id: {"healthy": False, "detail": "port 80 closed"}})
    assert slot.phase is Phase.CHECKING and slot.next_poll > h.clock.at
    h.clock.at += FAST.health_timeout + 1
    h.run.observing.poll()
    h.finish(h.composer, {slot.instance_id: {"healthy": False, "detail": "port 80 closed"}})
    assert slot.phase is Phase.DROP_QUEUED
    assert slot.failure == "health check did not pass within 5 s: port 80 closed"


def test_a_healthy_node_is_ready_and_says_so(h):
    slot = h.recorded(phase=Phase.CHECKING, since=h.clock.at)
    h.run.progress.planned("web")
    h.run.observing.poll_at(slot, h.clock.at)
    h.run.observing.poll()
    h.finish(h.composer, {slot.instance_id: {"healthy": True}})
    h.run.ledger.flush()
    assert slot.phase is Phase.READY and h.run.progress.may_start(["web"])
    record = h.store.get_instance(slot.instance_id)
    assert record.state is InstanceState.READY and record.intent is Intent.CREATED
    assert h.events()[-1] == "node.ready"


# ------------------------------------------------------------------ intake

def test_the_intake_resumes_a_half_made_instance_with_what_its_node_waits_for(h):
    slot = h.recorded()            # a record with intent creating, left by a run that died
    fresh = Harness(store=h.store)   # its intake takes the RunScope and reads the records
    resumed = fresh.run.table.get(slot.instance_id)
    assert resumed.phase is Phase.WAITING and resumed.waits_for == ("db",)
    assert fresh.events()[-1] == "infra.resumed"
