"""Following an infrastructure's event log as it grows (the CLI's progress display).

The log is append-only and positions are dense (1, 2, 3, ...), so a reader remembers the
last position it saw and asks for what came after; nothing is missed or seen twice, and
any number of readers on any machines can follow one log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .model import Event
from .store import Store

__all__ = ["follow_events"]


def follow_events(store: Store, infra_id: str, *, after: int = 0, interval: float = 0.2,
                  stop: threading.Event | None = None, batch: int = 1000) -> Iterator[Event]:
    """Yield the events of ``infra_id`` after position ``after``, then the new ones as
    they are appended, checking every ``interval`` seconds, until ``stop`` is set.

    Without ``stop`` it returns once it has caught up with the log.
    """
    while True:
        events = store.read_events(infra_id, after, batch)
        for event in events:
            after = event.position
            yield event
        if len(events) == batch:
            continue
        if stop is None or stop.wait(interval):
            return
