"""The cancel watch alone, on a real (memory) store and a clock the test moves: a cancel
is an event another writer appends; the run's own events are never read back."""

from __future__ import annotations

from occo.infobroker import Event, InfraRecord, MemoryStore
from occo.infraprocessor._cancel import CancelWatch
from occo.infraprocessor._ledger import Ledger
from occo.util import CANCEL_REQUESTED, InfraStatus


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[int, int]] = []     # (after, how many came back)
        self.broken = False

    def read_events(self, infra_id, after=0, limit=1000):
        if self.broken:
            raise ConnectionError("the store is away")
        events = super().read_events(infra_id, after=after, limit=limit)
        self.reads.append((after, len(events)))
        return events


def setup(before=()):
    store = CountingStore()
    store.create_infrastructure(InfraRecord(infra_id="i", name="n",
                                            status=InfraStatus.BUILDING))
    for type_ in before:
        store.append_event(Event(type=type_, infra_id="i"))
    newest = store.last_event("i")
    clock = Clock()
    watch = CancelWatch(store, "i", after=newest.position if newest else 0, clock=clock,
                        page=3)
    ledger = Ledger(store, "i", appended=watch.own)
    return store, clock, watch, ledger


def cancel(store):
    store.append_event(Event(type=CANCEL_REQUESTED, infra_id="i"))


def test_a_cancel_appended_during_the_run_is_seen_at_the_next_look():
    store, clock, watch, _ = setup()
    assert watch.requested() is False and len(store.reads) == 1
    cancel(store)
    clock.now += 0.5
    assert watch.requested() is False and len(store.reads) == 1   # not yet time to look
    clock.now += 0.5
    assert watch.requested() is True and len(store.reads) == 2
    clock.now += 5
    assert watch.requested() is True and len(store.reads) == 2   # once seen, it stays


def test_a_cancel_left_from_before_the_run_is_not_this_runs():
    """No clock is compared: a cancel older than the run, by however little, is before
    the position the run began at."""
    store, clock, watch, _ = setup(before=["infra.building", CANCEL_REQUESTED, "infra.cancelled"])
    assert watch.requested() is False
    clock.now += 1
    cancel(store)
    assert watch.requested() is True


def test_the_runs_own_events_are_not_read_back_and_a_cancel_between_them_is_seen():
    store, clock, watch, ledger = setup(before=["infra.created"])
    for n in range(10):                     # the run's own batches: skipped, never read
        for _ in range(5):
            ledger.event("node.ready", node_name=f"n{n}")
        ledger.flush()
        clock.now += 1
        assert watch.requested() is False
    assert all(count == 0 for _, count in store.reads), store.reads
    cancel(store)                           # between two of the run's batches
    ledger.event("node.ready")
    ledger.event("node.ready")
    ledger.flush()
    clock.now += 1
    assert watch.requested() is True
    assert store.reads[-1] == (51, 1)       # the gap alone: position 52, the cancel


def test_a_long_gap_of_other_writers_events_is_read_a_page_at_a_time():
    store, clock, watch, ledger = setup()
    for _ in range(7):
        store.append_event(Event(type="maintain.note", infra_id="i"))
    ledger.event("node.ready")
    ledger.flush()                         # position 8: the gap is 1..7
    assert watch.requested() is False
    assert [count for _, count in store.reads] == [3, 3, 1, 0]   # pages of 3, then the tail
    cancel(store)
    clock.now += 1
    assert watch.requested() is True


def test_a_store_that_fails_is_looked_at_again_later_and_the_run_goes_on():
    store, clock, watch, _ = setup()
    cancel(store)
    store.broken = True
    assert watch.requested() is False
    store.broken = False
    clock.now += 1.0
    assert watch.requested() is True
