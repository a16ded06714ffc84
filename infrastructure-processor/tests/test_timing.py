"""The scheduler's timing parts alone: the due queue, the learned start latency, the gap
between state polls."""

from __future__ import annotations

import pytest

from occo.infraprocessor._timing import DueQueue, StartLatency, poll_gap
from occo.util import CloudLimits


def test_due_queue_hands_out_what_is_due_earliest_first_and_keeps_the_rest():
    queue: DueQueue[str] = DueQueue()
    for when, item in ((3.0, "c"), (1.0, "a"), (2.0, "b"), (1.0, "a2"), (9.0, "late")):
        queue.push(when, item)
    assert queue.next_at() == 1.0 and len(queue) == 5
    assert list(queue.pop_due(2.0)) == [(1.0, "a"), (1.0, "a2"), (2.0, "b")]
    assert queue.next_at() == 3.0 and bool(queue)
    assert list(queue.pop_due(2.5)) == []
    assert list(queue.pop_due(100.0)) == [(3.0, "c"), (9.0, "late")]
    assert queue.next_at() is None and not queue


def test_due_queue_never_compares_its_items():
    class Opaque:   # no ordering: a tie on the time must not compare these
        pass

    queue: DueQueue[Opaque] = DueQueue()
    first, second = Opaque(), Opaque()
    queue.push(1.0, first)
    queue.push(1.0, second)
    assert [item for _, item in queue.pop_due(1.0)] == [first, second]


def test_start_latency_is_a_moving_average_per_endpoint():
    latency = StartLatency(alpha=0.5)
    assert latency.get("e") is None
    latency.learn("e", 10.0)
    latency.learn("e", 20.0)
    latency.learn("other", 1.0)
    assert latency.get("e") == 15.0 and latency.get("other") == 1.0


LIMITS = CloudLimits().over({"poll_interval": 5.0, "first_poll": 0.1})


@pytest.mark.parametrize("kwargs, gap", [
    # a watched endpoint pushes its changes: the poll is a backstop
    ({"starting": True, "watched": True, "learned": 3.0, "age": 1.0, "previous": 0.1}, 5.0),
    # around the usual start time: look often
    ({"starting": True, "watched": False, "learned": 3.0, "age": 3.5, "previous": 1.0}, 0.1),
    # past it: grow by half
    ({"starting": True, "watched": False, "learned": 3.0, "age": 4.0, "previous": 1.0}, 1.5),
    # nothing learned yet: grow from the last gap (at least 0.02 s)
    ({"starting": True, "watched": False, "learned": None, "age": 0.0, "previous": 0.0}, 0.03),
    # health checks ignore the start latency, and the gap stops at poll_interval
    ({"starting": False, "watched": True, "learned": 3.0, "age": 0.0, "previous": 4.0}, 5.0),
])
def test_poll_gap(kwargs, gap):
    assert poll_gap(limits=LIMITS, **kwargs) == pytest.approx(gap)
