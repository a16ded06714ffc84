"""open_store: every accepted form of a --state value, and a clear error for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REDIS_URL

from occo.infobroker import (
    BadStateLocation,
    MemoryStore,
    PostgreSQLStore,
    RedisStore,
    SQLiteStore,
    StoreUnavailable,
    default_state_path,
    open_store,
)
from occo.util.errors import Location

ACCEPTED = ("(accepted: memory://; sqlite:///path/to/state.sqlite; a plain file path; "
            "redis://host:port/db?prefix=name; postgresql://user@host:port/dbname?schema=name)")


def test_memory(key_path):
    with open_store("memory://", key_path=key_path) as store:
        assert isinstance(store, MemoryStore)


@pytest.mark.parametrize("form", ["plain", "sqlite", "pathlike"])
def test_sqlite_forms(tmp_path, key_path, form):
    path = tmp_path / "sub" / "state.sqlite"
    value = {"plain": str(path), "sqlite": f"sqlite://{path}", "pathlike": path}[form]
    with open_store(value, key_path=key_path) as store:
        assert isinstance(store, SQLiteStore) and store.path == path
    assert path.is_file()


def test_default_is_the_user_data_directory(tmp_path, monkeypatch, key_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_state_path() == tmp_path / "data" / "occo" / "state.sqlite"
    with open_store(key_path=key_path) as store:
        assert isinstance(store, SQLiteStore)
        assert store.path == tmp_path / "data" / "occo" / "state.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_state_path() == Path.home() / ".local" / "share" / "occo" / "state.sqlite"


def test_redis_with_prefix(redis_prefix, key_path):
    with open_store(f"{REDIS_URL}?prefix={redis_prefix}", key_path=key_path) as store:
        assert isinstance(store, RedisStore)
        assert store.prefix == redis_prefix and store.url == REDIS_URL


@pytest.mark.parametrize("value, message", [
    ("", "it is empty"),
    ("ftp://host/state", "unknown scheme ftp://"),
    ("memory://something", "memory:// takes nothing after it"),
    ("sqlite://", "sqlite:// needs a path"),
    ("redis://127.0.0.1:port/0", "malformed Redis URL"),
    ("redis:///0", "a Redis URL needs a host"),
    ("redis://127.0.0.1:6379/zero", "the Redis database must be a number, not 'zero'"),
    ("redis://127.0.0.1:6379/0?prefix=bad*prefix", "the Redis key prefix 'bad\\*prefix' is "
                                                   "not allowed"),
    # mistyped URLs: refused, never taken for a file with a strange name (issue 16)
    ("redis:/host", "redis: must be followed by two slashes, e.g. redis://127.0.0.1:6379/0"),
    ("Redis:/x", "Redis: must be followed by two slashes"),
    ("redis:127.0.0.1:6379", "redis: must be followed by two slashes"),
    ("mysql://db.example.org/occo", "unknown scheme mysql://"),
    ("memory:", "memory: must be followed by two slashes, e.g. memory://"),
    ("sqlite:state.db", "sqlite: must be followed by two slashes"),
    ("postgresql:/x", "postgresql: must be followed by two slashes, e.g. "
                      "postgresql://occo@127.0.0.1:5432/occo"),
    ("postgres:db", "postgres: must be followed by two slashes"),
    ("state:1.sqlite", "unknown scheme state: \\(a file whose name has a colon is written "
                       "./state:1.sqlite\\)"),
    ("c:/state.sqlite", "unknown scheme c:"),
    # PostgreSQL URLs checked before any connection is tried
    ("postgresql://127.0.0.1:5432/", "a PostgreSQL URL names one database"),
    ("postgresql://127.0.0.1:5432/a/b", "a PostgreSQL URL names one database"),
    ("postgresql://127.0.0.1:port/occo", "malformed PostgreSQL URL"),
    ("postgresql:///occo", "a PostgreSQL URL needs a host"),
    ("postgresql://127.0.0.1/occo?schema=Bad-Name", "the PostgreSQL schema 'Bad-Name' is not "
                                                    "allowed"),
    ("postgres://127.0.0.1/occo?schema=pg_catalog", "the PostgreSQL schema 'pg_catalog' is "
                                                    "not allowed"),
])
def test_bad_state_values(value, message, key_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadStateLocation, match=message) as err:
        open_store(value, key_path=key_path)
    assert list(tmp_path.iterdir()) == []          # no file of any name was created
    assert str(err.value).startswith(f"state location {value!r}: ")
    assert str(err.value).endswith(ACCEPTED)
    assert err.value.exit_code == 2


def test_bad_value_from_a_configuration_file_names_file_and_line(key_path):
    where = Location(file="occo.yaml", line=3, column=10, path="store.url")
    with pytest.raises(BadStateLocation) as err:
        open_store("mongodb://db", key_path=key_path, location=where)
    assert str(err.value).startswith("occo.yaml:3:10: store.url: state location "
                                     "'mongodb://db': unknown scheme mongodb://")


def test_bad_value_does_not_show_a_password(key_path):
    with pytest.raises(BadStateLocation) as err:
        open_store("redis://:hunter2@127.0.0.1:6379/x", key_path=key_path)
    assert "hunter2" not in str(err.value)
    assert "redis://:***@127.0.0.1:6379/x" in str(err.value)


def test_a_directory_given_as_state(tmp_path, key_path):
    with pytest.raises(BadStateLocation, match="is a directory"):
        open_store(str(tmp_path), key_path=key_path)


@pytest.mark.parametrize("value", ["state.sqlite", "data/state.sqlite", "./odd:name.sqlite",
                                   "sub/odd:name.sqlite"])
def test_paths_without_a_scheme_stay_sqlite_files(value, tmp_path, monkeypatch, key_path):
    monkeypatch.chdir(tmp_path)
    with open_store(value, key_path=key_path) as store:
        assert isinstance(store, SQLiteStore)
    assert (tmp_path / value).is_file()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "PostgreSQL"])
def test_postgresql_forms(scheme, pg_url, key_path):
    url = pg_url.replace("postgresql", scheme, 1)
    with open_store(url, key_path=key_path) as store:
        assert isinstance(store, PostgreSQLStore)
        assert store.schema == pg_url.rsplit("=", 1)[1]
        assert store.url == url


def test_postgresql_password_is_never_shown(key_path, caplog):
    import socket
    with socket.socket() as probe:                 # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://occo:pg-s3cret@127.0.0.1:{port}/occo"
    with pytest.raises(StoreUnavailable) as err:
        open_store(url, key_path=key_path)
    assert "pg-s3cret" not in str(err.value) and "pg-s3cret" not in caplog.text
    assert str(err.value).startswith(f"PostgreSQL at postgresql://occo:***@127.0.0.1:{port}/occo"
                                     f" is unreachable: ")
    with pytest.raises(BadStateLocation) as bad:
        open_store("postgresql://occo:pg-s3cret@127.0.0.1:5432/occo?schema=No", key_path=key_path)
    assert "pg-s3cret" not in str(bad.value)
    assert "postgresql://occo:***@127.0.0.1:5432/occo?schema=No" in str(bad.value)


@pytest.mark.parametrize("value, backend", [
    ("memory://", "memory"), ("state.sqlite", "sqlite"), ("sqlite:///x.sqlite", "sqlite"),
    ("rediss://h:6380/0", "redis"), ("Postgres://h/occo", "postgresql"),
    ("postgresql://h/occo?schema=s1", "postgresql"),
])
def test_state_backend_names_the_backend_opening_nothing(value, backend, tmp_path,
                                                         monkeypatch):
    from occo.infobroker.locate import state_backend
    monkeypatch.chdir(tmp_path)
    assert state_backend(value) == backend
    assert list(tmp_path.iterdir()) == []


def test_state_backend_refuses_what_open_store_refuses():
    from occo.infobroker.locate import state_backend
    with pytest.raises(BadStateLocation) as err:
        state_backend("postgresql:/x")
    assert str(err.value).startswith("state location 'postgresql:/x': postgresql: must be "
                                     "followed by two slashes")
    assert str(err.value).endswith(ACCEPTED)
