"""Fixtures: one store of each backend, on the real Redis with a key prefix of its own
and on the real PostgreSQL with a schema of its own.

Redis runs at 127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432 (trust authentication,
user postgres) on developer machines and in CI. Outside CI a test that needs one is
skipped (with the reason) when it is absent; under CI=true it fails instead.
Every Redis test uses a fresh prefix ``occo-test-<uuid>`` and deletes every key under it
afterwards (and checks that none is left). The PostgreSQL tests of one session share a
fresh database ``occo_test_<hex>``, dropped at the end; each test has a fresh schema in
it, dropped after the test.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from occo.infobroker import MemoryStore, PostgreSQLStore, RedisStore, SecretBox, SQLiteStore, Store

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_SERVER = f"postgresql://postgres@{PG_HOST}:{PG_PORT}"
BACKENDS = ("memory", "sqlite", "redis", "postgresql")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def redis_available() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1):
            return True
    except OSError:
        return False


def need_redis() -> None:
    if not redis_available():
        message = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
        if in_ci():
            pytest.fail(message + " (CI=true: Redis must run)")
        pytest.skip(message)


def postgresql_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def need_postgresql() -> None:
    if not postgresql_available():
        message = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}"
        if in_ci():
            pytest.fail(message + " (CI=true: PostgreSQL must run)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The URL of a fresh database for this test session; dropped at the end."""
    need_postgresql()
    name = f"occo_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_SERVER}/{name}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A store URL with a fresh schema; the schema is dropped afterwards (and checked)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{pg_database}?schema={schema}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        left = conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                            "table_schema = %s", (schema,)).fetchone()[0]
    assert left == 0, f"tables left behind in schema {schema}"


def new_prefix() -> str:
    return f"occo-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "store.key"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted afterwards."""
    need_redis()
    prefix = new_prefix()
    yield prefix
    raw = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = list(raw.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            raw.delete(*keys[start:start + 1000])
        left = list(raw.scan_iter(match=f"{prefix}:*"))
    finally:
        raw.close()
    assert left == [], f"keys left behind under {prefix}: {left[:5]}"


def make_store(kind: str, tmp_path: Path, key_path: Path, prefix: str | None) -> Store:
    """A store of ``kind``; ``prefix`` is the Redis prefix, or the PostgreSQL URL."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "state.sqlite", secrets=SecretBox(key_path))
    assert prefix is not None
    if kind == "postgresql":
        return PostgreSQLStore(prefix, secrets=SecretBox(key_path))
    return RedisStore(REDIS_URL, prefix, secrets=SecretBox(key_path))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend: str, tmp_path: Path, key_path: Path,
          request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh, empty store of each backend."""
    prefix = (request.getfixturevalue("redis_prefix") if backend == "redis" else
              request.getfixturevalue("pg_url") if backend == "postgresql" else None)
    store = make_store(backend, tmp_path, key_path, prefix)
    yield store
    store.close()


@pytest.fixture
def reopen(backend: str, tmp_path: Path, key_path: Path, request: pytest.FixtureRequest):
    """Opens a second store on the same state as ``store`` (another process's view)."""
    opened: list[Store] = []

    def again(store: Store) -> Store:
        if backend == "memory":
            return store
        prefix = request.getfixturevalue("pg_url") if backend == "postgresql" else getattr(
            store, "prefix", None)
        other = make_store(backend, tmp_path, key_path, prefix)
        opened.append(other)
        return other
    yield again
    for other in opened:
        other.close()
