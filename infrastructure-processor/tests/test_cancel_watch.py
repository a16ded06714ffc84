"""The cancel watch alone, on a real (memory) store and a clock the test moves."""

from __future__ import annotations

from occo.infobroker import InfraRecord, MemoryStore
from occo.infraprocessor._cancel import CancelWatch
from occo.util import InfraStatus


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.broken = False

    def get_infrastructure(self, infra_id):
        self.reads += 1
        if self.broken:
            raise ConnectionError("the store is away")
        return super().get_infrastructure(infra_id)


def setup(status=InfraStatus.BUILDING, updated_at=1000.0):
    store = CountingStore()
    store.create_infrastructure(InfraRecord(infra_id="i", name="n", status=status,
                                            updated_at=updated_at))
    clock = Clock()
    return store, clock, CancelWatch(store, "i", started_at=1000.0, clock=clock)


def test_a_cancel_written_during_the_run_is_seen_at_the_next_look():
    store, clock, watch = setup()
    assert watch.requested() is False and store.reads == 1
    store.update_infrastructure("i", expected_version=None, status=InfraStatus.CANCELLING,
                                updated_at=1001.0)
    clock.now += 0.5
    assert watch.requested() is False and store.reads == 1   # not yet time to look
    clock.now += 0.5
    assert watch.requested() is True and store.reads == 2


def test_a_cancel_left_from_before_the_run_is_stale():
    store, clock, watch = setup(status=InfraStatus.CANCELLING, updated_at=990.0)
    assert watch.requested() is False
    store.update_infrastructure("i", expected_version=None, status=InfraStatus.CANCELLING,
                                updated_at=996.0)   # within the 5 s allowed for clock skew
    clock.now += 1.0
    assert watch.requested() is True


def test_a_store_that_fails_is_looked_at_again_later_and_the_run_goes_on():
    store, clock, watch = setup(status=InfraStatus.CANCELLING, updated_at=1000.0)
    store.broken = True
    assert watch.requested() is False
    store.broken = False
    clock.now += 1.0
    assert watch.requested() is True
