"""A state file removed or replaced under an open SQLiteStore: every later read and write
says so (StoreGone, naming the file) instead of going on with a file nobody can open any
more, or with another one; nothing is written to either."""

from __future__ import annotations

import os
import sqlite3

import pytest

from occo.infobroker import InfraRecord, SecretBox, SQLiteStore, StoreGone


@pytest.fixture
def store(tmp_path):
    store = SQLiteStore(tmp_path / "state.sqlite", secrets=SecretBox(tmp_path / "key"))
    store.create_infrastructure(InfraRecord(infra_id="a", name="a"))
    yield store
    store.close()


def test_a_removed_file_stops_reads_and_writes(store):
    os.unlink(store.path)
    with pytest.raises(StoreGone) as caught:
        store.create_infrastructure(InfraRecord(infra_id="b", name="b"))
    assert str(caught.value).startswith(f"the state file {store.path} was removed while OCCO "
                                        f"was using it")
    with pytest.raises(StoreGone):
        store.get_infrastructure("a")
    assert not store.path.exists(), "the removed file was created again"


def test_a_file_replaced_by_another_stops_reads_and_writes(store, tmp_path):
    other = SQLiteStore(tmp_path / "other.sqlite", secrets=SecretBox(tmp_path / "key"))
    other.create_infrastructure(InfraRecord(infra_id="z", name="z"))
    other.close()
    os.replace(tmp_path / "other.sqlite", store.path)
    with pytest.raises(StoreGone, match="was replaced by another file"):
        store.list_infrastructures()
    with pytest.raises(StoreGone):
        store.update_infrastructure("z", expected_version=None, status="destroy_failed")
    with sqlite3.connect(store.path) as conn:      # the new file was not written to
        body = conn.execute("SELECT body FROM infrastructures").fetchone()[0]
        assert "destroy_failed" not in body


def test_the_same_file_opened_again_works(store, tmp_path):
    again = SQLiteStore(store.path, secrets=SecretBox(tmp_path / "key"))
    again.create_infrastructure(InfraRecord(infra_id="b", name="b"))
    assert [r.infra_id for r in store.list_infrastructures()] == ["a", "b"]
    again.close()
