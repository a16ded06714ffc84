"""open_store: every accepted form of a --state value, and a clear error for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from occo.infobroker import (BadStateLocation, MemoryStore, RedisStore, SQLiteStore,
                             default_state_path, open_store)
from occo.util.errors import Location
from conftest import REDIS_URL

ACCEPTED = ("(accepted: memory://; sqlite:///path/to/state.sqlite; a plain file path; "
            "redis://host:port/db?prefix=name)")


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
])
def test_bad_state_values(value, message, key_path):
    with pytest.raises(BadStateLocation, match=message) as err:
        open_store(value, key_path=key_path)
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
