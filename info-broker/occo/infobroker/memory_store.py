"""The in-memory store: for tests and for single-process use that needs no persistence.

It keeps the same encoded rows as the persistent backends (so it behaves exactly like
them: values are copied in and out, secrets sealed, details redacted), guarded by one
lock. Nothing survives the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ._codec import InfraRow, InstanceRow
from .errors import AlreadyExists, NotFound, VersionConflict
from .secretbox import SecretBox
from .store import InfraApply, InstanceApply, Store

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """A :class:`~occo.infobroker.store.Store` held in this process's memory.

    ``clock`` gives the time leases are measured by (``time.time``; tests may pass
    their own). Secret values are sealed with a key that lives only in this object.
    """

    url = "memory://"

    def __init__(self, *, secrets: SecretBox | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(secrets=secrets or SecretBox.ephemeral())
        self.clock = clock
        self._lock = threading.RLock()
        self._infras: dict[str, InfraRow] = {}
        self._definitions: dict[str, str] = {}
        self._instances: dict[str, InstanceRow] = {}
        self._by_infra: dict[str, dict[str, None]] = {}
        self._impls: dict[str, dict[str, str]] = {}
        self._targets: dict[str, dict[str, int]] = {}
        self._requests: dict[str, list[str]] = {}
        self._timers: dict[str, dict[str, float]] = {}
        self._events: dict[str, list[str]] = {}
        self._leases: dict[str, tuple[str, float]] = {}

    def _need(self, infra_id: str) -> None:
        if infra_id not in self._infras:
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)

    # ---------------------------------------------------------------- infrastructures

    def _create_infra(self, row: InfraRow) -> None:
        with self._lock:
            if row.infra_id in self._infras:
                raise AlreadyExists("infrastructure", row.infra_id, infra_id=row.infra_id)
            self._infras[row.infra_id] = row
            self._by_infra[row.infra_id] = {}
            self._impls[row.infra_id] = {}
            for table in (self._targets, self._timers):
                table[row.infra_id] = {}
            self._requests[row.infra_id] = []
            self._events[row.infra_id] = []

    def _get_infra(self, infra_id: str) -> InfraRow | None:
        with self._lock:
            return self._infras.get(infra_id)

    def _list_infras(self) -> list[InfraRow]:
        with self._lock:
            return list(self._infras.values())

    def _update_infra(self, infra_id: str, expected: int | None, apply: InfraApply) -> InfraRow:
        with self._lock:
            self._need(infra_id)
            row = self._infras[infra_id]
            if expected is not None and row.version != expected:
                raise VersionConflict("infrastructure", infra_id, expected=expected,
                                      actual=row.version, infra_id=infra_id)
            new = apply(row)
            self._infras[infra_id] = new
            return new

    def _delete_infra(self, infra_id: str) -> None:
        with self._lock:
            self._need(infra_id)
            del self._infras[infra_id]
            for instance_id in self._by_infra.pop(infra_id):
                del self._instances[instance_id]
            for table in (self._impls, self._targets, self._timers, self._requests,
                          self._events):
                del table[infra_id]

    # ---------------------------------------------------------------- node definitions

    def _put_definition(self, node_type: str, text: str) -> None:
        with self._lock:
            self._definitions[node_type] = text

    def _get_definition(self, node_type: str) -> str | None:
        with self._lock:
            return self._definitions.get(node_type)

    def _list_definitions(self) -> dict[str, str]:
        with self._lock:
            return dict(self._definitions)

    def _delete_definition(self, node_type: str) -> bool:
        with self._lock:
            return self._definitions.pop(node_type, None) is not None

    # ---------------------------------------------------------------- instances

    def _add_instances(self, rows: list[InstanceRow]) -> None:
        with self._lock:
            for row in rows:
                self._need(row.infra_id)
                if row.instance_id in self._instances:
                    raise AlreadyExists("instance", row.instance_id, infra_id=row.infra_id)
            for row in rows:
                impls = self._impls[row.infra_id]
                if row.impl not in impls:
                    impls[row.impl] = row.impl_json or ""
                self._instances[row.instance_id] = _stored(row)
                self._by_infra[row.infra_id][row.instance_id] = None

    def _get_instance(self, instance_id: str) -> tuple[InstanceRow, str] | None:
        with self._lock:
            row = self._instances.get(instance_id)
            if row is None:
                return None
            return row, self._impls[row.infra_id][row.impl]

    def _list_instances(self, infra_id: str, node_name: str | None
                        ) -> tuple[list[tuple[str, str]], dict[str, str]]:
        with self._lock:
            self._need(infra_id)
            rows = [self._instances[i] for i in self._by_infra[infra_id]]
            return ([(r.instance_id, r.body) for r in rows
                     if node_name is None or r.node_name == node_name],
                    dict(self._impls[infra_id]))

    def _update_instances(self, expected: dict[str, int | None], apply: InstanceApply, *,
                          with_impl: bool = False) -> dict[str, InstanceRow]:
        with self._lock:
            new: dict[str, InstanceRow] = {}
            for instance_id, version in expected.items():
                row = self._instances.get(instance_id)
                if row is None:
                    raise NotFound("instance", instance_id)
                if version is not None and row.version != version:
                    raise VersionConflict("instance", instance_id, expected=version,
                                          actual=row.version, infra_id=row.infra_id)
                new[instance_id] = apply(row)
            for instance_id, row in new.items():
                impls = self._impls[row.infra_id]
                if row.impl_json is not None:
                    impls.setdefault(row.impl, row.impl_json)
                self._instances[instance_id] = _stored(row)
                if with_impl:
                    row.impl_json = impls[row.impl]
            return new

    def _delete_instances(self, instance_ids: list[str]) -> None:
        with self._lock:
            for instance_id in instance_ids:
                row = self._instances.pop(instance_id, None)
                if row is not None:
                    del self._by_infra[row.infra_id][instance_id]
                    self._timers[row.infra_id].pop(instance_id, None)

    # ---------------------------------------------------------------- scaling

    def _get_targets(self, infra_id: str) -> dict[str, int]:
        with self._lock:
            self._need(infra_id)
            return dict(self._targets[infra_id])

    def _push_request(self, infra_id: str, text: str) -> None:
        with self._lock:
            self._need(infra_id)
            self._requests[infra_id].append(text)

    def _take_requests(self, infra_id: str, remove: bool) -> list[str]:
        with self._lock:
            self._need(infra_id)
            out = list(self._requests[infra_id])
            if remove:
                self._requests[infra_id].clear()
            return out

    def _settle_requests(self, infra_id: str, taken: int,
                         targets: dict[str, int | None]) -> None:
        with self._lock:
            self._need(infra_id)
            for node_name, count in targets.items():
                if count is None:
                    self._targets[infra_id].pop(node_name, None)
                else:
                    self._targets[infra_id][node_name] = count
            del self._requests[infra_id][:taken]

    # ---------------------------------------------------------------- failure timers

    def _start_timer(self, infra_id: str, instance_id: str, since: float) -> float:
        with self._lock:
            self._need(infra_id)
            return self._timers[infra_id].setdefault(instance_id, since)

    def _clear_timer(self, infra_id: str, instance_id: str) -> None:
        with self._lock:
            self._need(infra_id)
            self._timers[infra_id].pop(instance_id, None)

    def _get_timers(self, infra_id: str) -> dict[str, float]:
        with self._lock:
            self._need(infra_id)
            return dict(self._timers[infra_id])

    # ---------------------------------------------------------------- leases

    def _acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        with self._lock:
            now = self.clock()
            current = self._leases.get(name)
            if current is not None and current[0] != holder and current[1] > now:
                return False
            self._leases[name] = (holder, now + ttl)
            return True

    def _release_lease(self, name: str, holder: str) -> bool:
        with self._lock:
            current = self._leases.get(name)
            if current is None or current[0] != holder:
                return False
            del self._leases[name]
            return current[1] > self.clock()

    def _lease_holder(self, name: str) -> tuple[str, float] | None:
        with self._lock:
            current = self._leases.get(name)
            if current is None or current[1] <= self.clock():
                return None
            return current

    # ---------------------------------------------------------------- events

    def _append_events(self, by_infra: dict[str, list[str]]) -> dict[str, int]:
        with self._lock:
            for infra_id in by_infra:
                self._need(infra_id)
            firsts = {}
            for infra_id, texts in by_infra.items():
                log = self._events[infra_id]
                firsts[infra_id] = len(log) + 1
                log.extend(texts)
            return firsts

    def _read_events(self, infra_id: str, after: int, limit: int) -> list[tuple[int, str]]:
        with self._lock:
            self._need(infra_id)
            log = self._events[infra_id]
            return [(after + 1 + i, text) for i, text in enumerate(log[after:after + limit])]

    def _last_event(self, infra_id: str) -> tuple[int, str] | None:
        with self._lock:
            self._need(infra_id)
            log = self._events[infra_id]
            return (len(log), log[-1]) if log else None


def _stored(row: InstanceRow) -> InstanceRow:
    """The row as kept: without the implementation text (kept once per infrastructure)."""
    return InstanceRow(row.instance_id, row.infra_id, row.node_name, row.state, row.intent,
                       row.version, row.created_at, row.impl, row.body)
