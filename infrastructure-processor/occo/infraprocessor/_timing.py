"""The scheduler's sense of time: what is due when, and how often to look at a node.

- :class:`DueQueue`: slots to look at again at a given moment (state polls, the end of a
  backoff), earliest first; a slot pushed again supersedes its earlier entry only where
  the caller says so (the entry keeps the moment it was pushed for).
- :class:`StartLatency`: how long each endpoint's nodes usually take to start (a moving
  average), learned as they start.
- :func:`poll_gap`: the wait before the next state poll of a starting or checking node.

All of it takes the time as an argument: the scheduler reads its clock once per round.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import Generic, TypeVar

from occo.util import CloudLimits

__all__ = ["DueQueue", "StartLatency", "poll_gap"]

T = TypeVar("T")


class DueQueue(Generic[T]):
    """Items with a due time; :meth:`pop_due` hands out those whose time has come."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()   # ties keep their order; items are never compared

    def push(self, when: float, item: T) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), item))

    def pop_due(self, now: float) -> Iterator[tuple[float, T]]:
        """``(when, item)`` of every entry due at ``now``, earliest first, removed."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, item = heapq.heappop(heap)
            yield when, item

    def next_at(self) -> float | None:
        """When the earliest entry is due (None: nothing is queued)."""
        return self._heap[0][0] if self._heap else None

    def __bool__(self) -> bool:
        return bool(self._heap)

    def __len__(self) -> int:
        return len(self._heap)


class StartLatency:
    """Seconds each endpoint's nodes take from create to running: an exponentially
    weighted moving average (weight ``alpha`` for the newest)."""

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = alpha
        self._by_endpoint: dict[str, float] = {}

    def learn(self, endpoint: str, latency: float) -> None:
        old = self._by_endpoint.get(endpoint)
        self._by_endpoint[endpoint] = latency if old is None else \
            (1 - self.alpha) * old + self.alpha * latency

    def get(self, endpoint: str) -> float | None:
        return self._by_endpoint.get(endpoint)


def poll_gap(*, starting: bool, watched: bool, learned: float | None, age: float,
             previous: float, limits: CloudLimits) -> float:
    """The wait before the next state poll of a node.

    ``starting``: the node is starting (else its health is being checked); ``watched``: its
    endpoint pushes state changes (a poll is only a backstop); ``learned``: how long this
    endpoint's nodes usually take to start; ``age``: how long the node has been in its
    phase; ``previous``: the last gap. Around the usual start time the gap is the shortest
    (``first_poll``); otherwise it grows by half each time, up to ``poll_interval``.
    """
    if starting and watched:
        return limits.poll_interval
    if starting and learned and age < 1.25 * learned:
        return limits.first_poll
    return min(limits.poll_interval, max(previous, 0.02) * 1.5)
