"""The tables of the PostgreSQL store, as numbered migrations.

A migration is applied once, in one transaction (PostgreSQL's DDL is transactional: a
migration is applied whole or not at all), and recorded in ``schema_migrations``. The
migrating process holds a transaction-level advisory lock named after the schema, so two
processes starting at once never migrate together: the second waits, then finds the work
done. A schema whose newest migration is beyond what this OCCO knows is refused, before
anything is written (:class:`SchemaTooNew`), as the SQLite and Redis stores refuse one.

Record bodies are ``json`` columns, not ``jsonb``: the codec's text must come back byte
for byte (its marker for integers beyond 64 bits is a leading space, which ``jsonb``
would drop, along with key order), and the store never queries inside a body: the fields
that are queried (state, node, times, versions) are columns of their own.
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import SchemaTooNew, StoreCorrupt

__all__ = ["MIGRATIONS", "LATEST", "check_version", "migrate", "pending"]

log = logging.getLogger(__name__)

#: (version, what it does, SQL); the SQL runs with search_path set to the store's schema
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "the tables of OCCO's state", """
CREATE TABLE infrastructures (
    infra_id text PRIMARY KEY,
    version integer NOT NULL,
    created_at double precision NOT NULL,
    last_event bigint NOT NULL DEFAULT 0,
    body json NOT NULL,
    description json NOT NULL);
CREATE INDEX infrastructures_by_age ON infrastructures (created_at, infra_id);
CREATE TABLE node_definitions (node_type text PRIMARY KEY, body json NOT NULL);
CREATE TABLE implementations (
    infra_id text NOT NULL REFERENCES infrastructures ON DELETE CASCADE,
    digest text NOT NULL,
    body json NOT NULL,
    PRIMARY KEY (infra_id, digest));
CREATE TABLE instances (
    instance_id text PRIMARY KEY,
    infra_id text NOT NULL REFERENCES infrastructures ON DELETE CASCADE,
    node_name text NOT NULL,
    state text NOT NULL,
    intent text NOT NULL,
    version integer NOT NULL,
    created_at double precision NOT NULL,
    impl text NOT NULL,
    body json NOT NULL);
CREATE INDEX instances_by_infra ON instances (infra_id, created_at, instance_id);
CREATE INDEX instances_by_node ON instances (infra_id, node_name, created_at, instance_id);
CREATE TABLE scaling_targets (
    infra_id text NOT NULL REFERENCES infrastructures ON DELETE CASCADE,
    node_name text NOT NULL,
    count integer NOT NULL CHECK (count >= 0),
    PRIMARY KEY (infra_id, node_name));
CREATE TABLE scaling_requests (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    infra_id text NOT NULL REFERENCES infrastructures ON DELETE CASCADE,
    body json NOT NULL);
CREATE INDEX scaling_requests_by_infra ON scaling_requests (infra_id, seq);
CREATE TABLE failure_timers (
    infra_id text NOT NULL REFERENCES infrastructures ON DELETE CASCADE,
    instance_id text NOT NULL,
    since double precision NOT NULL,
    PRIMARY KEY (infra_id, instance_id));
CREATE INDEX failure_timers_by_instance ON failure_timers (instance_id);
CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL,
    expires_at double precision NOT NULL);
CREATE TABLE events (
    infra_id text NOT NULL REFERENCES infrastructures ON DELETE CASCADE,
    position bigint NOT NULL,
    body json NOT NULL,
    PRIMARY KEY (infra_id, position));
CREATE TABLE operations (op_id text PRIMARY KEY, done_at double precision NOT NULL);
CREATE INDEX operations_by_age ON operations (done_at);
"""),
)
LATEST = MIGRATIONS[-1][0]
TABLES = frozenset({"infrastructures", "node_definitions", "implementations", "instances",
                    "scaling_targets", "scaling_requests", "failure_timers", "leases",
                    "events", "operations", "schema_migrations"})


def _lock_key(schema: str) -> str:
    return f"occo-migrate:{schema}"


def check_version(cur: Any, schema: str, where: str) -> int:
    """The schema's applied version (0: nothing of OCCO's there yet), read only.

    :class:`SchemaTooNew` if it is beyond :data:`LATEST`, :class:`StoreCorrupt` if the
    schema holds tables but none of OCCO's bookkeeping."""
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,))
    tables = {row[0] for row in cur.fetchall()}
    if "schema_migrations" not in tables:
        if tables:
            raise StoreCorrupt(f"the PostgreSQL schema {schema!r} of {where} holds tables that "
                               f"are not OCCO's ({', '.join(sorted(tables)[:5])}); it was left "
                               f"untouched. Choose another schema with ?schema=name",
                               path=where)
        return 0
    cur.execute(f'SELECT coalesce(max(version), 0) FROM "{schema}".schema_migrations')
    version = cur.fetchone()[0]
    if version > LATEST:
        raise SchemaTooNew(f"the PostgreSQL store {where} (schema {schema!r}) was written by a "
                           f"newer OCCO (schema {version}; this one reads up to {LATEST}); "
                           f"it was left untouched: upgrade OCCO to use it", path=where,
                           found=version, supported=LATEST)
    if version == LATEST and not TABLES <= tables:
        raise StoreCorrupt(f"the PostgreSQL store {where} (schema {schema!r}) lacks the "
                           f"tables {', '.join(sorted(TABLES - tables))}; it is damaged and "
                           f"was left untouched", path=where)
    return version


def pending(version: int) -> list[tuple[int, str, str]]:
    """The migrations a schema at ``version`` still needs, in order."""
    return [m for m in MIGRATIONS if m[0] > version]


def migrate(conn: Any, schema: str, where: str) -> list[int]:
    """Bring ``schema`` up to :data:`LATEST`; returns the versions applied (maybe none).

    Runs in one transaction under an advisory lock; the version is read again under the
    lock, so a process that waited applies nothing twice."""
    with conn.transaction():
        cur = conn.cursor()
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (_lock_key(schema),))
        version = check_version(cur, schema, where)
        steps = pending(version)
        if not steps:
            return []
        cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cur.execute(f'SET LOCAL search_path TO "{schema}"')
        cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                    "description text NOT NULL, applied_at timestamptz NOT NULL "
                    "DEFAULT now())")
        for number, description, sql in steps:
            cur.execute(sql)
            cur.execute("INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                        (number, description))
            log.info("PostgreSQL store %s: applied migration %d (%s) to schema %r", where,
                     number, description, schema)
        return [number for number, _, _ in steps]
