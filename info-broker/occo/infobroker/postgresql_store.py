"""The PostgreSQL store: durable state shared by OCCO processes on several machines.

- Every write is one transaction. What must not interleave is serialised by row locks
  taken in the transaction, never by retrying in the application: a compare-and-set
  reads the row ``FOR UPDATE`` (several rows in id order, so two batches cannot
  deadlock); whatever is ordered per infrastructure (event positions, the scaling queue
  and its settlement) locks the infrastructure's row first, so positions and queue order
  are the order of commit; a lease is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``.
- Per-infrastructure tables reference ``infrastructures`` (``ON DELETE CASCADE``): a
  write for an infrastructure that is being deleted waits for the delete, and the delete
  is one statement.
- Exactly once across reconnects: each write first records a fresh operation id
  (``operations``) in its own transaction. When the connection is lost while committing,
  the write is run again with the same id; if the first attempt had committed, the
  second finds the id taken (waiting for the first, if it is still running) and does
  nothing. Operation ids are forgotten after an hour.
- A lost connection or a statement timeout is retried a bounded number of times, then
  :class:`StoreUnavailable` says so; the operation was done completely or not at all.
- Leases are measured by the database server's clock, one clock for every machine
  (``clock`` overrides it, for tests).
- Tables live in one PostgreSQL schema (``?schema=name``, default ``occo``), migrated on
  open (:mod:`._pg_schema`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import psycopg

from occo.util import register_secret

from . import _pg_schema
from ._codec import InfraRow, InstanceRow
from ._pg_session import Missing, PgSession, schema_version
from ._pg_url import parse_postgresql_url
from .errors import AlreadyExists, NotFound, VersionConflict
from .redis_url import redact_url
from .secretbox import SecretBox
from .store import InfraApply, InstanceApply, Store

T = TypeVar("T")

__all__ = ["PostgreSQLStore", "schema_version", "LATEST"]

LATEST = _pg_schema.LATEST

_NOW = "coalesce(%(now)s::float8, extract(epoch from clock_timestamp()))"
_INSTANCE_COLUMNS = ("instance_id, infra_id, node_name, state, intent, version, created_at, "
                     "impl, body")


class PostgreSQLStore(Store):
    """A :class:`~occo.infobroker.store.Store` in a PostgreSQL database.

    ``url``: ``postgresql://user[:password]@host:port/dbname[?schema=name&sslmode=...]``;
    a password not in the URL comes from ``PGPASSWORD`` or the password file, as libpq
    finds it. ``reconnects`` bounds the retries of one operation after a lost connection
    or a statement timeout; ``statement_timeout`` (seconds) bounds each statement on the
    server; ``connect_timeout`` each connection attempt. ``migrate``: bring the schema up
    to date on open (else a schema that needs it is refused, naming ``occo store
    migrate``).
    """

    _lists_in_order = True
    #: the schema version this OCCO lays out and needs
    LATEST_SCHEMA: ClassVar[int] = LATEST

    @staticmethod
    def applied_schema_version(url: str, *, connect_timeout: float = 10.0) -> int:
        """The schema version applied in the store at ``url`` (0: none yet), read without
        writing anything."""
        return schema_version(url, connect_timeout=connect_timeout)

    def __init__(self, url: str, *, secrets: SecretBox | None = None, reconnects: int = 3,
                 retry_delay: float = 0.05, statement_timeout: float = 30.0,
                 connect_timeout: float = 10.0, max_connections: int = 16,
                 migrate: bool = True, clock: Callable[[], float] | None = None) -> None:
        super().__init__(secrets=secrets or SecretBox())
        password = urlsplit(url).password
        if password:
            register_secret(password)
        self.url = redact_url(url)
        libpq, self.schema = parse_postgresql_url(url, self.url)
        self.clock = clock
        self._db = PgSession(self.url, libpq, self.schema, reconnects=reconnects,
                             retry_delay=retry_delay, statement_timeout=statement_timeout,
                             connect_timeout=connect_timeout, max_connections=max_connections)
        self.schema_version = self._db.open_schema(migrate)
        self._db.open_pool()
        self._round = threading.local()    # the cursor of a write_round in progress

    def _run(self, doing: str, body: Callable[[psycopg.Cursor], T], *,
             write: bool = True) -> T:
        """``body`` in a transaction of its own, or in the round's (write_round)."""
        cursor = getattr(self._round, "cursor", None)
        if cursor is not None:
            return body(cursor)
        return self._db.run(doing, body, write=write)

    atomic_rounds = True

    def _write_round(self, rows: list[InstanceRow], changes: dict[str, Mapping[str, Any]],
                     ids: list[str], by_infra: dict[str, list[str]]) -> dict[str, int]:
        def body(cur: psycopg.Cursor) -> dict[str, int]:
            self._round.cursor = cur
            try:
                return Store._write_round(self, rows, changes, ids, by_infra)
            finally:
                self._round.cursor = None
        # retried whole after a lost connection, exactly once (the session's operation id)
        return self._db.run("writing a scheduler round", body)

    def migrate(self) -> list[int]:
        """Apply any migrations still missing; returns their versions."""
        applied = self._db.migrate()
        self.schema_version = LATEST
        return applied

    def close(self) -> None:
        self._db.close()

    def purge(self) -> None:
        """Drop the store's schema with every table in it (tests, or to wipe the state)."""
        self._run("dropping the schema", lambda cur: cur.execute(
            f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'), write=False)

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _need(cur: psycopg.Cursor, infra_id: str, lock: str = "KEY SHARE") -> None:
        """Lock the infrastructure's row (``lock``); :class:`NotFound` if there is none."""
        cur.execute(f"SELECT 1 FROM infrastructures WHERE infra_id = %s FOR {lock}",
                    (infra_id,))
        if cur.fetchone() is None:
            raise Missing(NotFound("infrastructure", infra_id, infra_id=infra_id))

    def _exists(self, cur: psycopg.Cursor, infra_id: str) -> None:
        cur.execute("SELECT 1 FROM infrastructures WHERE infra_id = %s", (infra_id,))
        if cur.fetchone() is None:
            raise Missing(NotFound("infrastructure", infra_id, infra_id=infra_id))

    # ---------------------------------------------------------------- infrastructures

    def _create_infra(self, row: InfraRow) -> None:
        def body(cur: psycopg.Cursor) -> None:
            cur.execute("INSERT INTO infrastructures (infra_id, version, created_at, body, "
                        "description) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (row.infra_id, row.version, row.created_at, row.body,
                         row.description))
            if cur.rowcount == 0:
                raise Missing(AlreadyExists("infrastructure", row.infra_id,
                                             infra_id=row.infra_id))
        self._run("creating an infrastructure", body)

    def _get_infra(self, infra_id: str) -> InfraRow | None:
        def body(cur: psycopg.Cursor) -> InfraRow | None:
            found = cur.execute("SELECT infra_id, version, created_at, body, description "
                                "FROM infrastructures WHERE infra_id = %s",
                                (infra_id,)).fetchone()
            return InfraRow(*found) if found else None
        return self._run("reading an infrastructure", body, write=False)

    def _list_infras(self) -> list[InfraRow]:
        return self._run("listing infrastructures", lambda cur: [InfraRow(*r) for r in cur.execute(
            "SELECT infra_id, version, created_at, body, description FROM infrastructures "
            "ORDER BY created_at, infra_id").fetchall()], write=False)

    def _update_infra(self, infra_id: str, expected: int | None, apply: InfraApply) -> InfraRow:
        def body(cur: psycopg.Cursor) -> InfraRow:
            found = cur.execute("SELECT infra_id, version, created_at, body, description FROM "
                                "infrastructures WHERE infra_id = %s FOR NO KEY UPDATE",
                                (infra_id,)).fetchone()
            if found is None:
                raise Missing(NotFound("infrastructure", infra_id, infra_id=infra_id))
            row = InfraRow(*found)
            if expected is not None and row.version != expected:
                raise Missing(VersionConflict("infrastructure", infra_id, expected=expected,
                                               actual=row.version, infra_id=infra_id))
            new = apply(row)
            cur.execute("UPDATE infrastructures SET version = %s, created_at = %s, body = %s, "
                        "description = %s WHERE infra_id = %s",
                        (new.version, new.created_at, new.body, new.description, infra_id))
            return new
        return self._run("updating an infrastructure", body)

    def _delete_infra(self, infra_id: str) -> None:
        def body(cur: psycopg.Cursor) -> None:
            cur.execute("DELETE FROM infrastructures WHERE infra_id = %s", (infra_id,))
            if cur.rowcount == 0:
                raise Missing(NotFound("infrastructure", infra_id, infra_id=infra_id))
        self._run("deleting an infrastructure", body)

    # ---------------------------------------------------------------- node definitions

    def _put_definition(self, node_type: str, text: str) -> None:
        self._run("storing a node definition", lambda cur: cur.execute(
            "INSERT INTO node_definitions (node_type, body) VALUES (%s, %s) "
            "ON CONFLICT (node_type) DO UPDATE SET body = excluded.body", (node_type, text)))

    def _get_definition(self, node_type: str) -> str | None:
        found = self._run("reading a node definition", lambda cur: cur.execute(
            "SELECT body FROM node_definitions WHERE node_type = %s", (node_type,)).fetchone(),
            write=False)
        return found[0] if found else None

    def _list_definitions(self) -> dict[str, str]:
        return self._run("listing node definitions", lambda cur: dict(cur.execute(
            "SELECT node_type, body FROM node_definitions").fetchall()), write=False)

    def _delete_definition(self, node_type: str) -> bool:
        return self._run("deleting a node definition", lambda cur: cur.execute(
            "DELETE FROM node_definitions WHERE node_type = %s", (node_type,)).rowcount > 0)

    # ---------------------------------------------------------------- instances

    def _add_instances(self, rows: list[InstanceRow]) -> None:
        def body(cur: psycopg.Cursor) -> None:
            infra_ids = sorted({row.infra_id for row in rows})
            found = {r[0] for r in cur.execute(
                "SELECT infra_id FROM infrastructures WHERE infra_id = ANY(%s) "
                "ORDER BY infra_id FOR KEY SHARE", (infra_ids,)).fetchall()}
            for infra_id in infra_ids:
                if infra_id not in found:
                    raise Missing(NotFound("infrastructure", infra_id, infra_id=infra_id))
            _put_impls(cur, rows)
            added = {r[0] for r in cur.execute(
                f"INSERT INTO instances ({_INSTANCE_COLUMNS}) SELECT * FROM unnest("
                "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], "
                "%s::float8[], %s::text[], %s::json[]) ON CONFLICT DO NOTHING "
                "RETURNING instance_id", _columns(rows, with_infra=True)).fetchall()}
            if len(added) < len(rows):
                taken = next(r for r in rows if r.instance_id not in added)
                raise Missing(AlreadyExists("instance", taken.instance_id,
                                             infra_id=taken.infra_id))
        self._run("adding instances", body)

    def _get_instance(self, instance_id: str) -> tuple[InstanceRow, str] | None:
        found = self._run("reading an instance", lambda cur: cur.execute(
            "SELECT i.instance_id, i.infra_id, i.node_name, i.state, i.intent, i.version, "
            "i.created_at, i.impl, i.body, m.body FROM instances i JOIN implementations m "
            "ON m.infra_id = i.infra_id AND m.digest = i.impl WHERE i.instance_id = %s",
            (instance_id,)).fetchone(), write=False)
        if found is None:
            return None
        return InstanceRow(*found[:9]), found[9]

    def _list_instances(self, infra_id: str, node_name: str | None
                        ) -> tuple[list[tuple[str, str]], dict[str, str]]:
        def body(cur: psycopg.Cursor) -> tuple[list[tuple[str, str]], dict[str, str]]:
            if node_name is None:
                bodies = cur.execute("SELECT instance_id, body FROM instances WHERE "
                                     "infra_id = %s ORDER BY created_at, instance_id",
                                     (infra_id,)).fetchall()
            else:
                bodies = cur.execute("SELECT instance_id, body FROM instances WHERE "
                                     "infra_id = %s AND node_name = %s ORDER BY created_at, "
                                     "instance_id", (infra_id, node_name)).fetchall()
            if not bodies:
                self._exists(cur, infra_id)
                return [], {}
            # an instance seen above was committed with (or after) its implementation
            impls = dict(cur.execute("SELECT digest, body FROM implementations "
                                     "WHERE infra_id = %s", (infra_id,)).fetchall())
            return bodies, impls
        return self._run("listing instances", body, write=False)

    def _update_instances(self, expected: dict[str, int | None], apply: InstanceApply, *,
                          with_impl: bool = False) -> dict[str, InstanceRow]:
        def body(cur: psycopg.Cursor) -> dict[str, InstanceRow]:
            # locked in id order: two batches over the same rows cannot deadlock
            rows = {r[0]: InstanceRow(*r) for r in cur.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ANY(%s) "
                "ORDER BY instance_id FOR UPDATE", (list(expected),)).fetchall()}
            new: dict[str, InstanceRow] = {}
            for instance_id, version in expected.items():
                row = rows.get(instance_id)
                if row is None:
                    raise Missing(NotFound("instance", instance_id))
                if version is not None and row.version != version:
                    raise Missing(VersionConflict("instance", instance_id, expected=version,
                                                   actual=row.version, infra_id=row.infra_id))
                new[instance_id] = apply(row)
            _put_impls(cur, [r for r in new.values() if r.impl_json is not None])
            cur.execute(
                "UPDATE instances AS i SET node_name = v.node_name, state = v.state, "
                "intent = v.intent, version = v.version, created_at = v.created_at, "
                "impl = v.impl, body = v.body FROM unnest(%s::text[], %s::text[], %s::text[], "
                "%s::text[], %s::int[], %s::float8[], %s::text[], %s::json[]) AS v(instance_id, "
                "node_name, state, intent, version, created_at, impl, body) "
                "WHERE i.instance_id = v.instance_id", _columns(list(new.values())))
            if with_impl:
                for row in new.values():
                    row.impl_json = cur.execute(
                        "SELECT body FROM implementations WHERE infra_id = %s AND digest = %s",
                        (row.infra_id, row.impl)).fetchone()[0]
            return new
        return self._run("updating instances", body)

    def _delete_instances(self, instance_ids: list[str]) -> None:
        def body(cur: psycopg.Cursor) -> None:
            cur.execute("DELETE FROM failure_timers WHERE instance_id = ANY(%s)",
                        (instance_ids,))
            cur.execute("DELETE FROM instances WHERE instance_id = ANY(%s)", (instance_ids,))
        self._run("deleting instances", body)

    # ---------------------------------------------------------------- scaling

    def _get_targets(self, infra_id: str) -> dict[str, int]:
        def body(cur: psycopg.Cursor) -> dict[str, int]:
            found = dict(cur.execute("SELECT node_name, count FROM scaling_targets "
                                     "WHERE infra_id = %s", (infra_id,)).fetchall())
            if not found:
                self._exists(cur, infra_id)
            return found
        return self._run("reading scaling targets", body, write=False)

    def _push_request(self, infra_id: str, text: str) -> None:
        def body(cur: psycopg.Cursor) -> None:
            # the infrastructure's row lock orders the queue by commit, not by start
            self._need(cur, infra_id, "NO KEY UPDATE")
            cur.execute("INSERT INTO scaling_requests (infra_id, body) VALUES (%s, %s)",
                        (infra_id, text))
        self._run("queueing a scaling request", body)

    def _take_requests(self, infra_id: str, remove: bool) -> list[str]:
        def peek(cur: psycopg.Cursor) -> list[str]:
            out = [r[0] for r in cur.execute("SELECT body FROM scaling_requests WHERE "
                                             "infra_id = %s ORDER BY seq",
                                             (infra_id,)).fetchall()]
            if not out:
                self._exists(cur, infra_id)
            return out
        if not remove:
            return self._run("reading scaling requests", peek, write=False)

        def body(cur: psycopg.Cursor) -> list[str]:
            self._need(cur, infra_id, "NO KEY UPDATE")
            taken = cur.execute("DELETE FROM scaling_requests WHERE infra_id = %s "
                                "RETURNING seq, body", (infra_id,)).fetchall()
            return [text for _, text in sorted(taken)]
        return self._run("taking scaling requests", body)

    def _settle_requests(self, infra_id: str, taken: int,
                         targets: dict[str, int | None]) -> None:
        def body(cur: psycopg.Cursor) -> None:
            self._need(cur, infra_id, "NO KEY UPDATE")
            for node_name, count in targets.items():
                if count is None:
                    cur.execute("DELETE FROM scaling_targets WHERE infra_id = %s AND "
                                "node_name = %s", (infra_id, node_name))
                else:
                    cur.execute("INSERT INTO scaling_targets (infra_id, node_name, count) "
                                "VALUES (%s, %s, %s) ON CONFLICT (infra_id, node_name) "
                                "DO UPDATE SET count = excluded.count",
                                (infra_id, node_name, count))
            if taken:
                cur.execute("DELETE FROM scaling_requests WHERE seq IN (SELECT seq FROM "
                            "scaling_requests WHERE infra_id = %s ORDER BY seq LIMIT %s)",
                            (infra_id, taken))
        self._run("settling scaling requests", body)

    # ---------------------------------------------------------------- failure timers

    def _start_timer(self, infra_id: str, instance_id: str, since: float) -> float:
        def body(cur: psycopg.Cursor) -> float:
            self._need(cur, infra_id)
            return cur.execute(
                "INSERT INTO failure_timers AS t (infra_id, instance_id, since) "
                "VALUES (%s, %s, %s) ON CONFLICT (infra_id, instance_id) "
                "DO UPDATE SET since = t.since RETURNING since",
                (infra_id, instance_id, since)).fetchone()[0]
        return self._run("starting a failure timer", body)

    def _clear_timer(self, infra_id: str, instance_id: str) -> None:
        def body(cur: psycopg.Cursor) -> None:
            self._need(cur, infra_id)
            cur.execute("DELETE FROM failure_timers WHERE infra_id = %s AND instance_id = %s",
                        (infra_id, instance_id))
        self._run("clearing a failure timer", body)

    def _get_timers(self, infra_id: str) -> dict[str, float]:
        def body(cur: psycopg.Cursor) -> dict[str, float]:
            found = dict(cur.execute("SELECT instance_id, since FROM failure_timers "
                                     "WHERE infra_id = %s", (infra_id,)).fetchall())
            if not found:
                self._exists(cur, infra_id)
            return found
        return self._run("reading failure timers", body, write=False)

    # ---------------------------------------------------------------- leases

    def _now(self) -> float | None:
        return self.clock() if self.clock is not None else None

    def _acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        args = {"name": name, "holder": holder, "ttl": ttl, "now": self._now()}
        return self._run("acquiring a lease", lambda cur: cur.execute(
            f"INSERT INTO leases AS l (name, holder, expires_at) VALUES (%(name)s, "
            f"%(holder)s, {_NOW} + %(ttl)s) ON CONFLICT (name) DO UPDATE SET "
            f"holder = excluded.holder, expires_at = excluded.expires_at "
            f"WHERE l.holder = excluded.holder OR l.expires_at <= {_NOW} RETURNING 1",
            args).fetchone() is not None)

    def _release_lease(self, name: str, holder: str) -> bool:
        args = {"name": name, "holder": holder, "now": self._now()}
        found = self._run("releasing a lease", lambda cur: cur.execute(
            f"DELETE FROM leases WHERE name = %(name)s AND holder = %(holder)s "
            f"RETURNING expires_at > {_NOW}", args).fetchone())
        return bool(found and found[0])

    def _lease_holder(self, name: str) -> tuple[str, float] | None:
        found = self._run("reading a lease", lambda cur: cur.execute(
            f"SELECT holder, expires_at FROM leases WHERE name = %(name)s AND "
            f"expires_at > {_NOW}", {"name": name, "now": self._now()}).fetchone(),
            write=False)
        return (found[0], found[1]) if found else None

    # ---------------------------------------------------------------- events

    def _append_events(self, by_infra: dict[str, list[str]]) -> dict[str, int]:
        def body(cur: psycopg.Cursor) -> dict[str, int]:
            firsts = {}
            for infra_id in sorted(by_infra):      # row locks in id order: no deadlock
                texts = by_infra[infra_id]
                found = cur.execute("UPDATE infrastructures SET last_event = last_event + %s "
                                    "WHERE infra_id = %s RETURNING last_event",
                                    (len(texts), infra_id)).fetchone()
                if found is None:
                    raise Missing(NotFound("infrastructure", infra_id, infra_id=infra_id))
                first = found[0] - len(texts) + 1
                firsts[infra_id] = first
                cur.execute("INSERT INTO events (infra_id, position, body) SELECT %s, "
                            "position, body FROM unnest(%s::bigint[], %s::json[]) "
                            "AS e(position, body)",
                            (infra_id, list(range(first, first + len(texts))), texts))
            return firsts
        return self._run("appending events", body)

    def _read_events(self, infra_id: str, after: int, limit: int) -> list[tuple[int, str]]:
        def body(cur: psycopg.Cursor) -> list[tuple[int, str]]:
            found = cur.execute("SELECT position, body FROM events WHERE infra_id = %s AND "
                                "position > %s ORDER BY position LIMIT %s",
                                (infra_id, after, limit)).fetchall()
            if not found:
                self._exists(cur, infra_id)
            return found
        return self._run("reading events", body, write=False)

    def _last_event(self, infra_id: str) -> tuple[int, str] | None:
        def body(cur: psycopg.Cursor) -> tuple[int, str] | None:
            found = cur.execute("SELECT position, body FROM events WHERE infra_id = %s "
                                "ORDER BY position DESC LIMIT 1", (infra_id,)).fetchone()
            if found is None:
                self._exists(cur, infra_id)
                return None
            return found[0], found[1]
        return self._run("reading the last event", body, write=False)


def _put_impls(cur: psycopg.Cursor, rows: list[InstanceRow]) -> None:
    impls = sorted({(r.infra_id, r.impl, r.impl_json or "") for r in rows})
    if impls:
        cur.execute("INSERT INTO implementations (infra_id, digest, body) SELECT * FROM "
                    "unnest(%s::text[], %s::text[], %s::json[]) ON CONFLICT DO NOTHING",
                    [list(column) for column in zip(*impls)])


def _columns(rows: list[InstanceRow], *, with_infra: bool = False) -> list[list[Any]]:
    """The rows as columns, for ``unnest``."""
    columns: list[list[Any]] = [[r.instance_id for r in rows]]
    if with_infra:
        columns.append([r.infra_id for r in rows])
    columns += [[r.node_name for r in rows], [r.state for r in rows], [r.intent for r in rows],
                [r.version for r in rows], [r.created_at for r in rows],
                [r.impl for r in rows], [r.body for r in rows]]
    return columns
