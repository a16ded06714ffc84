"""held_lease: one holder at a time, renewed while held, waited for, released after."""

from __future__ import annotations

import threading

import pytest

from occo.infobroker import LeaseHeld, MemoryStore, held_lease


def test_the_lease_is_renewed_while_held_and_released_after():
    store = MemoryStore()
    with held_lease(store, "work", "host:1:a", ttl=0.3):
        first = store.lease_holder("work")[1]
        renewed = threading.Event()

        def check():
            holder = store.lease_holder("work")
            if holder and holder[1] > first:
                renewed.set()
        for _ in range(40):
            check()
            if renewed.wait(0.05):
                break
        assert renewed.is_set(), "the keeper renews before the time-to-live runs out"
        assert store.lease_holder("work")[0] == "host:1:a"
    assert store.lease_holder("work") is None


def test_a_held_lease_is_waited_for_then_refused_naming_the_holder():
    store = MemoryStore()
    assert store.acquire_lease("work", "elsewhere:7:z", 60)
    with pytest.raises(LeaseHeld, match="the job is held by elsewhere:7:z"):
        with held_lease(store, "work", "host:1:a", ttl=5, wait=0.2, what="the job"):
            pass


def test_a_lease_freed_while_waiting_is_taken():
    store = MemoryStore()
    assert store.acquire_lease("work", "elsewhere:7:z", 60)
    threading.Timer(0.2, store.release_lease, args=("work", "elsewhere:7:z")).start()
    with held_lease(store, "work", "host:1:a", ttl=5, wait=5):
        assert store.lease_holder("work")[0] == "host:1:a"
