"""Buffered writes to the info broker: one batch per scheduler round, written as one.

Intent first: the scheduler never makes a cloud call for an instance before the round's
batch holding its record (or its ``dropping`` intent) has been flushed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from occo.infobroker import Event, InstanceRecord, InstanceState, Intent, Store


class Ledger:
    def __init__(self, store: Store, infra_id: str, *,
                 appended: Callable[[Sequence[int]], None] | None = None) -> None:
        """``appended``: told the positions of each batch of events the ledger wrote."""
        self.store = store
        self.infra_id = infra_id
        self.appended = appended
        self._new: list[InstanceRecord] = []
        self._changes: dict[str, dict[str, Any]] = {}
        self._deleted: list[str] = []
        self._events: list[Event] = []

    def record(self, *, instance_id: str, node_name: str, implementation: Mapping[str, Any],
               attempt: int) -> None:
        now = time.time()
        self._new.append(InstanceRecord(
            instance_id=instance_id, infra_id=self.infra_id, node_name=node_name,
            implementation=dict(implementation), resource=None, state=InstanceState.PENDING,
            intent=Intent.CREATING, addresses=[], private_addresses=[], created_at=now,
            updated_at=now, ready_at=None, failure=None, attempts=attempt, version=1))

    def change(self, instance_id: str, **changes: Any) -> None:
        self._changes.setdefault(instance_id, {}).update(changes)

    def delete(self, instance_id: str) -> None:
        self._changes.pop(instance_id, None)
        self._deleted.append(instance_id)

    def event(self, type_: str, *, node_name: str | None = None, instance_id: str | None = None,
              **details: Any) -> None:
        self._events.append(Event(type=type_, infra_id=self.infra_id, node_name=node_name,
                                  instance_id=instance_id, time=time.time(), details=details))

    def flush(self) -> None:
        """Write everything buffered as one round (``Store.write_round``): new records,
        changes, deletions, then events; in one transaction where the store has them, so
        an instance's state and the event that tells it are never written apart."""
        if not (self._new or self._changes or self._deleted or self._events):
            return
        if self._changes:
            stamp = time.time()
            for change in self._changes.values():
                change.setdefault("updated_at", stamp)
        new, changes, deleted, events = self._new, self._changes, self._deleted, self._events
        positions = self.store.write_round(new=new, changes=changes, deleted=deleted,
                                           events=events)
        self._new, self._changes, self._deleted, self._events = [], {}, [], []
        if self.appended is not None and positions:
            self.appended(positions)
