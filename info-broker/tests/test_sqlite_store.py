"""SQLite specifics: the file it writes, and files it must refuse without touching them."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from occo.infobroker import (
    SCHEMA_VERSION,
    BadStateLocation,
    InfraRecord,
    InstanceRecord,
    SchemaTooNew,
    SecretBox,
    SQLiteStore,
    StoreCorrupt,
    StoreError,
)
from occo.infobroker.sqlite_store import APPLICATION_ID


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_at(path: Path, key_path: Path) -> SQLiteStore:
    return SQLiteStore(path, secrets=SecretBox(key_path))


def filled(path: Path, key_path: Path, instances: int = 300) -> None:
    """A closed state file holding one infrastructure with ``instances`` instances."""
    with open_at(path, key_path) as store:
        store.create_infrastructure(InfraRecord(infra_id="i", name="x"))
        store.add_instances([InstanceRecord(instance_id=f"n{n}", infra_id="i", node_name="web",
                                            implementation={"type": "web", "n": n},
                                            addresses=[f"10.0.{n // 250}.{n % 250}"])
                             for n in range(instances)])


def test_new_file_is_marked_as_occo_wal_mode_and_current_schema(tmp_path, key_path):
    path = tmp_path / "deep" / "dir" / "state.sqlite"
    open_at(path, key_path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_state_survives_reopening(tmp_path, key_path):
    path = tmp_path / "state.sqlite"
    filled(path, key_path, 20)
    with open_at(path, key_path) as store:
        assert len(store.list_instances("i")) == 20
        assert store.get_instance("n7").addresses == ["10.0.0.7"]


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path, key_path):
    path = tmp_path / "state.sqlite"
    path.write_bytes(os.urandom(4096))
    before = digest(path)
    with pytest.raises(StoreCorrupt) as err:
        open_at(path, key_path)
    assert str(err.value) == (f"the state file {path} is not an SQLite database (damaged, or "
                              f"not OCCO's); it was left untouched. Move it away or choose "
                              f"another file with --state")
    assert err.value.path == str(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.sqlite"]


def test_another_programs_database_is_refused_untouched(tmp_path, key_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers VALUES (1, 'Ada')")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreCorrupt, match=r"is an SQLite database of another program, not "
                                           r"OCCO's \(application id 0x0\); it was left "
                                           r"untouched"):
        open_at(path, key_path)
    assert digest(path) == before


def test_a_file_of_a_newer_schema_is_refused_untouched(tmp_path, key_path):
    path = tmp_path / "state.sqlite"
    filled(path, key_path, 3)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = digest(path)
    with pytest.raises(SchemaTooNew) as err:
        open_at(path, key_path)
    assert str(err.value) == (f"the state file {path} was written by a newer OCCO (schema "
                              f"{SCHEMA_VERSION + 1}; this one reads up to {SCHEMA_VERSION}); "
                              f"it was left untouched: upgrade OCCO to use it")
    assert (err.value.found, err.value.supported) == (SCHEMA_VERSION + 1, SCHEMA_VERSION)
    assert isinstance(err.value, StoreCorrupt)
    assert digest(path) == before


def test_damaged_pages_are_reported_and_left_as_they_are(tmp_path, key_path):
    path = tmp_path / "state.sqlite"
    filled(path, key_path, 400)
    data = bytearray(path.read_bytes())
    assert len(data) > 16384
    data[8192:len(data) - 4096] = os.urandom(len(data) - 4096 - 8192)
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(StoreCorrupt, match=r"is damaged .* Restore a backup or move it away"):
        store = open_at(path, key_path)
        try:
            store.verify()
            store.list_instances("i")
        finally:
            store.close()
    assert digest(path) == before


def test_truncated_file_is_refused_untouched(tmp_path, key_path):
    path = tmp_path / "state.sqlite"
    filled(path, key_path, 50)
    path.write_bytes(path.read_bytes()[:60])
    before = digest(path)
    with pytest.raises(StoreCorrupt, match="state.sqlite"):
        open_at(path, key_path)
    assert digest(path) == before


def test_a_directory_is_not_a_state_file(tmp_path, key_path):
    with pytest.raises(BadStateLocation) as err:
        open_at(tmp_path, key_path)
    assert str(err.value) == (f"the state location {tmp_path} is a directory; give a file path "
                              f"such as {tmp_path / 'state.sqlite'}")
    assert err.value.exit_code == 2


def test_a_file_as_parent_directory_is_refused(tmp_path, key_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(BadStateLocation, match="a parent of it is not a directory"):
        open_at(tmp_path / "plain" / "state.sqlite", key_path)
    assert (tmp_path / "plain").read_text() == "x"


def test_empty_file_becomes_a_state_file(tmp_path, key_path):
    path = tmp_path / "state.sqlite"
    path.touch()
    with open_at(path, key_path) as store:
        store.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    with open_at(path, key_path) as store:
        assert store.get_infrastructure("i").name == "x"


def test_a_closed_store_refuses_work(tmp_path, key_path):
    store = open_at(tmp_path / "state.sqlite", key_path)
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.list_infrastructures()


def test_a_long_held_write_lock_gives_a_clear_error(tmp_path, key_path):
    path = tmp_path / "state.sqlite"
    store = SQLiteStore(path, secrets=SecretBox(key_path), busy_timeout=0.1)
    store.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match=r"stayed locked by another process for more than "
                                             r"0.1 s while updating an infrastructure"):
            store.update_infrastructure("i", expected_version=1, status="destroy_failed")
        assert store.get_infrastructure("i").status == "building"   # readers are not blocked
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    rec = store.update_infrastructure("i", expected_version=1, status="destroy_failed")
    assert rec.version == 2
    store.close()


def test_each_thread_uses_its_own_connection(tmp_path, key_path):
    import threading
    store = open_at(tmp_path / "state.sqlite", key_path)
    store.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    errors: list[BaseException] = []
    all_connected = threading.Barrier(4, timeout=60)

    def work(n: int) -> None:
        try:
            store.add_instances([InstanceRecord(instance_id=f"t{n}-{k}", infra_id="i",
                                                node_name="web") for k in range(20)])
            all_connected.wait()     # no thread ends before all have their connection
        except BaseException as exc:  # reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(store.list_instances("i")) == 80
    assert len(store._connections) == 5          # the main thread's and four threads'
    # the finished threads' connections are closed when the next thread connects
    late = threading.Thread(target=store.list_infrastructures)
    late.start()
    late.join(timeout=60)
    assert [t for t, _ in store._connections] == [threading.main_thread(), late]
    store.close()
    assert store._connections == []


def test_a_record_written_before_checked_at_existed_reads_and_updates(tmp_path, key_path):
    path = tmp_path / "state.sqlite"
    filled(path, key_path, instances=1)
    conn = sqlite3.connect(path)
    (body,) = conn.execute("SELECT body FROM instances WHERE instance_id='n0'").fetchone()
    old = body.replace('"checked_at":null,', "")
    assert old != body and "checked_at" not in old
    with conn:
        conn.execute("UPDATE instances SET body=? WHERE instance_id='n0'", (old,))
    conn.close()
    with open_at(path, key_path) as store:
        assert store.get_instance("n0").checked_at is None
        store.update_instances({"n0": {"checked_at": 42.0}})
        got = store.get_instance("n0")
        assert (got.checked_at, got.version, got.implementation) == \
            (42.0, 2, {"type": "web", "n": 0})
