"""Fixtures: one store of each backend, on the real Redis with a key prefix of its own.

Redis runs at 127.0.0.1:6379 on developer machines and in CI. Outside CI a test that
needs it is skipped (with the reason) when it is absent; under CI=true it fails instead.
Every Redis test uses a fresh prefix ``occo-test-<uuid>`` and deletes every key under it
afterwards (and checks that none is left).
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import redis

from occo.infobroker import MemoryStore, RedisStore, SecretBox, SQLiteStore, Store

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
BACKENDS = ("memory", "sqlite", "redis")


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
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "state.sqlite", secrets=SecretBox(key_path))
    assert prefix is not None
    return RedisStore(REDIS_URL, prefix, secrets=SecretBox(key_path))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend: str, tmp_path: Path, key_path: Path,
          request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh, empty store of each backend."""
    prefix = request.getfixturevalue("redis_prefix") if backend == "redis" else None
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
        prefix = getattr(store, "prefix", None)
        other = make_store(backend, tmp_path, key_path, prefix)
        opened.append(other)
        return other
    yield again
    for other in opened:
        other.close()
