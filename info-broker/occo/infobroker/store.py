"""The store interface every backend implements, and the checks they share.

A :class:`Store` is OCCO's memory: infrastructures, node definitions, node instances,
scaling targets and requests, failure timers, maintenance leases and the event log. The
public methods below validate and encode (through one :class:`~._codec.Codec`, so every
backend stores the same JSON); the backends implement the ``_``-methods, each of which is
one atomic step: one SQLite or PostgreSQL transaction, one Redis script, one critical
section.

Rules every backend keeps (the shared contract tests check them):

- Every write is atomic: a batch is written whole or not at all.
- Versions: a new record has version 1; every update raises it by one. An update with
  ``expected_version`` is a compare-and-set (:class:`VersionConflict` on a mismatch); one
  without is a read-modify-write that is retried internally, so concurrent writers never
  lose each other's changes.
- Per-infrastructure data (instances, targets, requests, timers, events) exists only while
  its infrastructure does: writing it for an unknown infrastructure is :class:`NotFound`,
  and :meth:`Store.delete_infrastructure` removes all of it.
- ``list_instances`` returns instances oldest first (``created_at``, then id).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from occo.util import collection_paused

from ._codec import Codec, InfraRow, InstanceRow, dumps
from .errors import AlreadyExists, DamagedRecord, InvalidRecord, NotFound
from .model import Event, InfraRecord, InstanceRecord, ScalingRequest
from .secretbox import SecretBox

__all__ = ["Store"]

InfraApply = Callable[[InfraRow], InfraRow]


def _age(rec: InstanceRecord) -> tuple[float, str]:
    return rec.created_at, rec.instance_id


InstanceApply = Callable[[InstanceRow], InstanceRow]


class Store(abc.ABC):
    """OCCO's state. Thread-safe; use as a context manager or call :meth:`close`."""

    #: how the store is named in messages (a path or a URL without password)
    url: str = ""
    #: whether ``_list_instances`` returns bodies oldest first already
    _lists_in_order: bool = False

    def __init__(self, *, secrets: SecretBox) -> None:
        self.codec = Codec(secrets, where=lambda: "the state store "
                                                  f"{self.url or type(self).__name__}")

    def scaling_secret(self, infra_id: str, *, create: bool = True) -> str:
        """The secret that authorises the REST scale paths of ``infra_id`` (and only
        those): derived from the store's key, never stored (docs/user/rest-reference.rst).
        Every process that serves or builds the infrastructure derives the same one."""
        return self.codec.box.derive(f"rest-scaling:{infra_id}", create=create)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def close(self) -> None:
        """Release connections and files. The store must not be used afterwards."""

    # ================================================================ infrastructures

    def create_infrastructure(self, rec: InfraRecord) -> InfraRecord:
        """Store a new infrastructure (version 1); :class:`AlreadyExists` if its id is taken.

        Values under secret-named keys in the description are encrypted, ``auth_data``
        dropped. Returns the record as stored.
        """
        row = self.codec.infra_row(rec)
        self._create_infra(row)
        return self.codec.infra_record(row)

    def get_infrastructure(self, infra_id: str) -> InfraRecord:
        row = self._get_infra(infra_id)
        if row is None:
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)
        return self.codec.infra_record(row)

    def list_infrastructures(self, *, damaged: list[DamagedRecord] | None = None
                             ) -> list[InfraRecord]:
        """Every infrastructure, oldest first.

        A row that cannot be read raises :class:`DamagedRecord`; with a ``damaged`` list
        given, its error is appended there instead and the other rows are returned (what a
        caller that can go on without that one infrastructure passes)."""
        rows = sorted(self._list_infras(), key=lambda r: (r.created_at, r.infra_id))
        out = []
        for row in rows:
            try:
                out.append(self.codec.infra_record(row))
            except DamagedRecord as exc:
                if damaged is None:
                    raise
                damaged.append(exc)
        return out

    def update_infrastructure(self, infra_id: str, /, *, expected_version: int | None,
                              **changes: Any) -> InfraRecord:
        """Change fields of an infrastructure; returns the new record.

        With ``expected_version`` the change is made only if the stored version is that
        one (:class:`VersionConflict` otherwise); ``None`` applies it to whatever is
        stored. ``updated_at`` is set to now unless given.
        """
        if expected_version is not None and not isinstance(expected_version, int):
            raise InvalidRecord(f"expected_version must be an integer, not {expected_version!r}")
        self.codec.check_infra_changes(changes)
        row = self._update_infra(infra_id, expected_version,
                                 lambda row: self.codec.change_infra(row, changes))
        return self.codec.infra_record(row)

    def delete_infrastructure(self, infra_id: str) -> None:
        """Remove an infrastructure and everything of it: instances, implementations,
        targets, requests, failure timers and events. :class:`NotFound` if unknown."""
        self._delete_infra(infra_id)

    # ================================================================ node definitions

    def put_node_definition(self, node_type: str, implementations: Sequence[Mapping]) -> None:
        """Store (or replace) the implementations of a node type."""
        if not isinstance(node_type, str) or not node_type:
            raise InvalidRecord(f"a node type must be a non-empty string, not {node_type!r}")
        if isinstance(implementations, (str, bytes, Mapping)) or not all(
                isinstance(impl, Mapping) for impl in implementations):
            raise InvalidRecord(f"the implementations of {node_type!r} must be a list of "
                                f"mappings")
        sealed = [self.codec.box.seal(dict(impl)) for impl in implementations]
        self._put_definition(node_type, dumps(sealed, f"node definition {node_type!r}"))

    def get_node_definition(self, node_type: str) -> list[dict]:
        text = self._get_definition(node_type)
        if text is None:
            raise NotFound("node definition", node_type)
        return self.codec.implementation(text, kind="node definition", key=node_type)

    def list_node_definitions(self) -> dict[str, list[dict]]:
        return {t: self.codec.implementation(text, kind="node definition", key=t)
                for t, text in sorted(self._list_definitions().items())}

    def delete_node_definition(self, node_type: str) -> None:
        """Forget a node type; :class:`NotFound` if it is not stored."""
        if not self._delete_definition(node_type):
            raise NotFound("node definition", node_type)

    # ================================================================ instances

    def add_instances(self, records: Iterable[InstanceRecord]) -> None:
        """Store new instances (each at version 1) in one atomic batch.

        :class:`AlreadyExists` if any id is already stored (or repeated in the batch),
        :class:`NotFound` if an infrastructure is unknown; then nothing is written.
        """
        rows = self._new_rows(records)
        if rows:
            self._add_instances(rows)

    def _new_rows(self, records: Iterable[InstanceRecord]) -> list[InstanceRow]:
        """The rows of new instances; AlreadyExists for an id repeated among them."""
        rows = [self.codec.instance_row(rec) for rec in records]
        seen: set[str] = set()
        for row in rows:
            if row.instance_id in seen:
                raise AlreadyExists("instance", row.instance_id, infra_id=row.infra_id)
            seen.add(row.instance_id)
        return rows

    def get_instance(self, instance_id: str) -> InstanceRecord:
        found = self._get_instance(instance_id)
        if found is None:
            raise NotFound("instance", instance_id)
        row, impl_text = found
        return self.codec.instance_record(
            row.instance_id, row.infra_id, row.body,
            lambda digest: self.codec.implementation(impl_text, key=digest,
                                                     infra_id=row.infra_id))

    def list_instances(self, infra_id: str, node_name: str | None = None
                       ) -> list[InstanceRecord]:
        """The instances of an infrastructure (of one node, if given), oldest first."""
        with collection_paused():   # 10,000 records: a quarter of the time was collections
            bodies, impls = self._list_instances(infra_id, node_name)
            decoded: dict[str, dict] = {}

            def implementation(digest: str) -> dict:
                impl = decoded.get(digest)
                if impl is None:
                    text = impls.get(digest)
                    if text is None:
                        raise ValueError(f"its implementation {digest} is not stored")
                    impl = decoded[digest] = self.codec.implementation(
                        text, key=digest, infra_id=infra_id)
                return impl

            records = [self.codec.instance_record(instance_id, infra_id, body, implementation)
                       for instance_id, body in bodies]
        if node_name is not None:
            records = [r for r in records if r.node_name == node_name]
        if not self._lists_in_order:
            records.sort(key=_age)
        return records

    def update_instance(self, instance_id: str, /, *, expected_version: int | None = None,
                        **changes: Any) -> InstanceRecord:
        """Change fields of one instance; returns the new record.

        With ``expected_version``: compare-and-set (:class:`VersionConflict`). Without:
        applied to the current record, retried if another writer got in between.
        """
        if expected_version is not None and not isinstance(expected_version, int):
            raise InvalidRecord(f"expected_version must be an integer, not {expected_version!r}")
        self.codec.check_instance_changes(changes)
        row = self._update_instances({instance_id: expected_version},
                                     lambda row: self.codec.change_instance(row, changes),
                                     with_impl=True)[instance_id]
        text = row.impl_json or ""
        return self.codec.instance_record(
            row.instance_id, row.infra_id, row.body,
            lambda digest: self.codec.implementation(text, key=digest, infra_id=row.infra_id))

    def update_instances(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Change several instances in one atomic batch (no compare-and-set).

        :class:`NotFound` if any id is unknown; then nothing is written.
        """
        for change in changes.values():
            self.codec.check_instance_changes(change)
        if changes:
            self._apply_changes(changes)

    def _apply_changes(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """The backend step of checked changes (no compare-and-set)."""
        self._update_instances(
            {instance_id: None for instance_id in changes},
            lambda row: self.codec.change_instance(row, changes[row.instance_id]))

    def delete_instances(self, instance_ids: Iterable[str]) -> None:
        """Forget instances (and their failure timers); unknown ids are ignored."""
        ids = list(dict.fromkeys(instance_ids))
        if ids:
            self._delete_instances(ids)

    # ================================================================ rounds

    #: whether :meth:`write_round` is one transaction (else its parts are atomic each)
    atomic_rounds = False

    def write_round(self, *, new: Iterable[InstanceRecord] = (),
                    changes: Mapping[str, Mapping[str, Any]] | None = None,
                    deleted: Iterable[str] = (), events: Iterable[Event] = ()) -> list[int]:
        """One scheduler round's writes, in this order: new instances, changes, deletions,
        events; returns the events' positions. Where the backend has transactions
        (:attr:`atomic_rounds`: SQLite, PostgreSQL) the round is one transaction, so an
        instance's new state and the event that tells it are written together or not at
        all; elsewhere each part is atomic on its own, as the methods it stands for."""
        rows = self._new_rows(new)
        changes = dict(changes or {})
        for change in changes.values():
            self.codec.check_instance_changes(change)
        ids = list(dict.fromkeys(deleted))
        by_infra, order = self._encode_events(events)
        firsts = self._write_round(rows, changes, ids, by_infra)
        return [firsts[infra_id] + index for infra_id, index in order]

    def _write_round(self, rows: list[InstanceRow], changes: dict[str, Mapping[str, Any]],
                     ids: list[str], by_infra: dict[str, list[str]]) -> dict[str, int]:
        """The round's backend steps in order; a backend with transactions runs this in
        one."""
        if rows:
            self._add_instances(rows)
        if changes:
            self._apply_changes(changes)
        if ids:
            self._delete_instances(ids)
        return self._append_events(by_infra) if by_infra else {}

    # ================================================================ scaling

    def set_scaling_target(self, infra_id: str, node_name: str, count: int | None) -> None:
        """Set the wanted number of instances of a node; ``None`` removes the target."""
        self._check_target(node_name, count)
        self._settle_requests(infra_id, 0, {node_name: count})

    @staticmethod
    def _check_target(node_name: str, count: int | None) -> None:
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 0):
            raise InvalidRecord(f"a scaling target must be an integer >= 0 or None, "
                                f"not {count!r}")
        if not isinstance(node_name, str) or not node_name:
            raise InvalidRecord(f"a node name must be a non-empty string, not {node_name!r}")

    def get_scaling_targets(self, infra_id: str) -> dict[str, int]:
        return self._get_targets(infra_id)

    def push_scaling_request(self, req: ScalingRequest) -> None:
        """Queue a scaling request; requests are taken in the order they were pushed."""
        self._push_request(req.infra_id, self.codec.request_json(req))

    def take_scaling_requests(self, infra_id: str) -> list[ScalingRequest]:
        """Every queued request of the infrastructure, removed in the same atomic step."""
        return [self.codec.request(text, infra_id, n) for n, text in
                enumerate(self._take_requests(infra_id, remove=True), 1)]

    def peek_scaling_requests(self, infra_id: str) -> list[ScalingRequest]:
        """The queued requests, left in the queue."""
        return [self.codec.request(text, infra_id, n) for n, text in
                enumerate(self._take_requests(infra_id, remove=False), 1)]

    def settle_scaling_requests(self, infra_id: str, taken: int,
                                targets: Mapping[str, int | None]) -> None:
        """Record ``targets`` and remove the first ``taken`` queued requests, atomically.

        A maintainer peeks at the queue, decides, then settles: if it dies in between, the
        requests are still queued for the next one; a request is never removed without the
        target it led to. Requests pushed after the peek stay queued.
        """
        if isinstance(taken, bool) or not isinstance(taken, int) or taken < 0:
            raise InvalidRecord(f"the number of requests taken must be an integer >= 0, "
                                f"not {taken!r}")
        for node_name, count in targets.items():
            self._check_target(node_name, count)
        self._settle_requests(infra_id, taken, dict(targets))

    # ================================================================ failure timers

    def start_failure_timer(self, infra_id: str, instance_id: str, since: float) -> float:
        """Start the instance's failure timer at ``since`` unless it runs already;
        returns when the running timer started."""
        if isinstance(since, bool) or not isinstance(since, (int, float)):
            raise InvalidRecord(f"since must be a number, not {since!r}")
        return self._start_timer(infra_id, instance_id, float(since))

    def clear_failure_timer(self, infra_id: str, instance_id: str) -> None:
        self._clear_timer(infra_id, instance_id)

    def get_failure_timers(self, infra_id: str) -> dict[str, float]:
        """``{instance_id: since}`` of the running failure timers."""
        return self._get_timers(infra_id)

    # ================================================================ leases

    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` seconds.

        True if it was free, expired, or already held by ``holder`` (then renewed); False
        if someone else holds it. A holder that dies stops renewing, and its lease expires.
        """
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise InvalidRecord(f"a lease's ttl must be a positive number, not {ttl!r}")
        if not name or not holder:
            raise InvalidRecord("a lease needs a name and a holder")
        return self._acquire_lease(name, holder, float(ttl))

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up if ``holder`` holds it; returns whether it did."""
        return self._release_lease(name, holder)

    def lease_holder(self, name: str) -> tuple[str, float] | None:
        """``(holder, expires_at)`` of a live lease, else ``None``."""
        return self._lease_holder(name)

    # ================================================================ events

    def append_event(self, event: Event) -> int:
        """Append one event to its infrastructure's log; returns its position."""
        return self.append_events([event])[0]

    def append_events(self, events: Iterable[Event]) -> list[int]:
        """Append events atomically, in order; returns their positions.

        Events of several infrastructures may be mixed; each log gets its own positions.
        """
        by_infra, order = self._encode_events(events)
        if not by_infra:
            return []
        firsts = self._append_events(by_infra)
        return [firsts[infra_id] + index for infra_id, index in order]

    def _encode_events(self, events: Iterable[Event]
                       ) -> tuple[dict[str, list[str]], list[tuple[str, int]]]:
        """The events' texts per infrastructure, and where each event went."""
        by_infra: dict[str, list[str]] = {}
        order: list[tuple[str, int]] = []
        for event in events:
            text = self.codec.event_json(event)
            group = by_infra.setdefault(event.infra_id, [])
            order.append((event.infra_id, len(group)))
            group.append(text)
        return by_infra, order

    def read_events(self, infra_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        """Events with a position greater than ``after``, oldest first, at most ``limit``."""
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise InvalidRecord(f"after must be an integer >= 0, not {after!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidRecord(f"limit must be an integer >= 1, not {limit!r}")
        return [self.codec.event(text, position, infra_id)
                for position, text in self._read_events(infra_id, after, limit)]

    def last_event(self, infra_id: str) -> Event | None:
        """The newest event of an infrastructure's log (``None`` if it has none), read
        without reading the log: one indexed query whatever its length."""
        found = self._last_event(infra_id)
        return None if found is None else self.codec.event(found[1], found[0], infra_id)

    # ================================================================ backend steps

    @abc.abstractmethod
    def _create_infra(self, row: InfraRow) -> None: ...

    @abc.abstractmethod
    def _get_infra(self, infra_id: str) -> InfraRow | None: ...

    @abc.abstractmethod
    def _list_infras(self) -> list[InfraRow]: ...

    @abc.abstractmethod
    def _update_infra(self, infra_id: str, expected: int | None, apply: InfraApply
                      ) -> InfraRow: ...

    @abc.abstractmethod
    def _delete_infra(self, infra_id: str) -> None: ...

    @abc.abstractmethod
    def _put_definition(self, node_type: str, text: str) -> None: ...

    @abc.abstractmethod
    def _get_definition(self, node_type: str) -> str | None: ...

    @abc.abstractmethod
    def _list_definitions(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def _delete_definition(self, node_type: str) -> bool: ...

    @abc.abstractmethod
    def _add_instances(self, rows: list[InstanceRow]) -> None: ...

    @abc.abstractmethod
    def _get_instance(self, instance_id: str) -> tuple[InstanceRow, str] | None:
        """The row and its implementation text."""

    @abc.abstractmethod
    def _list_instances(self, infra_id: str, node_name: str | None
                        ) -> tuple[list[tuple[str, str]], dict[str, str]]:
        """``([(instance_id, body)], {digest: implementation text})``; may include other
        nodes' instances when ``node_name`` is given (the caller filters)."""

    @abc.abstractmethod
    def _update_instances(self, expected: dict[str, int | None], apply: InstanceApply, *,
                          with_impl: bool = False) -> dict[str, InstanceRow]:
        """Apply ``apply`` to each named row atomically; ``None`` = no compare-and-set.

        :class:`NotFound` for an unknown id, :class:`VersionConflict` for a mismatch;
        then nothing is written. ``apply`` may set ``impl_json`` (a new implementation),
        which the backend stores. With ``with_impl`` the returned rows carry their
        implementation text in ``impl_json``."""

    @abc.abstractmethod
    def _delete_instances(self, instance_ids: list[str]) -> None: ...

    @abc.abstractmethod
    def _get_targets(self, infra_id: str) -> dict[str, int]: ...

    @abc.abstractmethod
    def _push_request(self, infra_id: str, text: str) -> None: ...

    @abc.abstractmethod
    def _take_requests(self, infra_id: str, remove: bool) -> list[str]: ...

    @abc.abstractmethod
    def _settle_requests(self, infra_id: str, taken: int,
                         targets: dict[str, int | None]) -> None:
        """Set (or, for None, remove) ``targets`` and drop the first ``taken`` requests,
        in one atomic step."""

    @abc.abstractmethod
    def _start_timer(self, infra_id: str, instance_id: str, since: float) -> float: ...

    @abc.abstractmethod
    def _clear_timer(self, infra_id: str, instance_id: str) -> None: ...

    @abc.abstractmethod
    def _get_timers(self, infra_id: str) -> dict[str, float]: ...

    @abc.abstractmethod
    def _acquire_lease(self, name: str, holder: str, ttl: float) -> bool: ...

    @abc.abstractmethod
    def _release_lease(self, name: str, holder: str) -> bool: ...

    @abc.abstractmethod
    def _lease_holder(self, name: str) -> tuple[str, float] | None: ...

    @abc.abstractmethod
    def _append_events(self, by_infra: dict[str, list[str]]) -> dict[str, int]:
        """Append each infrastructure's texts; returns the position of each first one."""

    @abc.abstractmethod
    def _read_events(self, infra_id: str, after: int, limit: int) -> list[tuple[int, str]]: ...

    @abc.abstractmethod
    def _last_event(self, infra_id: str) -> tuple[int, str] | None: ...
