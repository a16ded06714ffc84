"""Request coalescing: concurrent readers share a computation that started after they
arrived; errors reach every caller of the computation that raised them."""

from __future__ import annotations

import itertools
import threading

import pytest

from occo.api.rest_coalesce import Coalescer
from occo.util.testing import wait_until


def test_callers_arriving_during_a_computation_share_the_next_one():
    reads = Coalescer()
    version = itertools.count(1)
    state = {"value": 0}
    gate = threading.Event()
    entered = threading.Event()

    def compute():
        seen = state["value"]
        entered.set()
        gate.wait(timeout=30)
        return seen

    first: list[int] = []
    leader = threading.Thread(target=lambda: first.append(reads.get("k", compute)))
    leader.start()
    assert entered.wait(timeout=30)
    # the store changes after the first computation read it; later callers must see it
    state["value"] = next(version)
    results: list[int] = []
    followers = [threading.Thread(target=lambda: results.append(reads.get("k", compute)))
                 for _ in range(20)]
    for thread in followers:
        thread.start()
    wait_until(lambda: reads.served == 21, what="every follower arrived")
    gate.set()
    leader.join(timeout=30)
    for thread in followers:
        thread.join(timeout=30)
    assert first == [0]
    assert results == [1] * 20          # none got the value read before it arrived
    assert reads.computed == 2          # one computation for all twenty
    assert reads._keys == {}            # nothing kept once idle


def test_different_keys_do_not_wait_for_each_other():
    reads = Coalescer()
    gate = threading.Event()
    entered = threading.Event()

    def slow():
        entered.set()
        gate.wait(timeout=30)
        return "slow"

    out: list[str] = []
    thread = threading.Thread(target=lambda: out.append(reads.get("a", slow)))
    thread.start()
    assert entered.wait(timeout=30)
    assert reads.get("b", lambda: "fast") == "fast"
    gate.set()
    thread.join(timeout=30)
    assert out == ["slow"]


def test_an_error_reaches_every_caller_and_the_next_call_computes_again():
    reads = Coalescer()

    def broken():
        raise LookupError("no such infrastructure")

    with pytest.raises(LookupError, match="no such infrastructure"):
        reads.get("k", broken)
    assert reads.get("k", lambda: 7) == 7
    assert reads.computed == 2
