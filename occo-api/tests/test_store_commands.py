"""``occo store migrate|check|copy`` against the real PostgreSQL and SQLite files.

PostgreSQL runs at 127.0.0.1:5432 (trust authentication, user postgres). Outside CI these
tests skip when it is absent; under CI=true they fail instead. The session has a fresh
database of its own, dropped at the end; each test a fresh schema in it.
"""

from __future__ import annotations

import json
import os

import psycopg
import pytest

from occo.api.cli import main
from occo.infobroker import Event, InfraRecord, InstanceRecord, ScalingRequest, open_store

SECRET = "pw-store-copy-9z"


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    """The key file and any default state live in the test's own directory."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def fill(location: str, infra_id: str = "web") -> None:
    """One infrastructure with a bit of everything, secrets among it."""
    with open_store(location) as store:
        store.put_node_definition("db", [{"type": "db", "password": SECRET}])
        store.create_infrastructure(InfraRecord(
            infra_id=infra_id, name=infra_id, status="ready",
            description={"variables": {"db_password": SECRET}, "nodes": [{"name": "app"}]}))
        store.add_instances([InstanceRecord(instance_id=f"{infra_id}-{n}", infra_id=infra_id,
                                            node_name="app", implementation={"type": "app"},
                                            created_at=100.0 + n, addresses=[f"10.0.0.{n}"])
                             for n in range(30)])
        store.settle_scaling_requests(infra_id, 0, {"app": 30})
        store.push_scaling_request(ScalingRequest(infra_id=infra_id, node_name="app",
                                                  kind="create"))
        store.start_failure_timer(infra_id, f"{infra_id}-3", 42.0)
        store.append_events([Event(type="node.created", infra_id=infra_id, time=float(n),
                                   details={"n": n}) for n in range(1205)])


def snapshot(location: str) -> dict:
    with open_store(location) as store:
        out = {"definitions": store.list_node_definitions()}
        for rec in store.list_infrastructures():
            out[rec.infra_id] = {
                "name": rec.name, "status": rec.status, "description": rec.description,
                "created_at": rec.created_at,
                "instances": [(i.instance_id, i.node_name, i.addresses, i.implementation,
                               i.created_at) for i in store.list_instances(rec.infra_id)],
                "targets": store.get_scaling_targets(rec.infra_id),
                "requests": [(r.node_name, r.kind) for r in
                             store.peek_scaling_requests(rec.infra_id)],
                "timers": store.get_failure_timers(rec.infra_id),
                "events": [(e.position, e.type, e.details) for e in
                           store.read_events(rec.infra_id, limit=5000)]}
        return out


def test_copy_sqlite_to_postgresql_and_back(tmp_path, pg_url, capsys):
    sqlite = str(tmp_path / "state.sqlite")
    fill(sqlite)
    assert main(["store", "copy", sqlite, pg_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"copied {sqlite} to {pg_url}; the counts match:\n")
    assert "  instances: 30\n" in out and "  events: 1205\n" in out
    assert "  scaling requests: 1\n" in out
    assert snapshot(pg_url) == snapshot(sqlite)
    assert snapshot(pg_url)["web"]["description"]["variables"]["db_password"] == SECRET

    back = str(tmp_path / "back.sqlite")
    assert main(["store", "copy", pg_url, back, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["copied"] == {"infrastructures": 1, "node_definitions": 1, "instances": 30,
                                "scaling_targets": 1, "scaling_requests": 1,
                                "failure_timers": 1, "events": 1205}
    assert snapshot(back) == snapshot(sqlite)
    with open(back, "rb") as handle:                 # still sealed in the new file
        assert SECRET.encode() not in handle.read()


def test_copy_refuses_a_target_that_is_not_empty_unless_forced(tmp_path, pg_url, capsys):
    sqlite = str(tmp_path / "state.sqlite")
    fill(sqlite)
    fill(pg_url, "other")
    before = snapshot(pg_url)
    assert main(["store", "copy", sqlite, pg_url]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"occo: error: the target store {pg_url} is not empty "
                          f"(1 infrastructures); nothing was copied. Copy into an empty "
                          f"store, or give --force")
    assert snapshot(pg_url) == before
    assert main(["store", "copy", sqlite, pg_url, "--force"]) == 0
    after = snapshot(pg_url)
    assert set(after) == {"definitions", "web", "other"}
    assert after["web"] == snapshot(sqlite)["web"]


def test_copy_onto_itself_is_refused(tmp_path, capsys):
    sqlite = str(tmp_path / "state.sqlite")
    assert main(["store", "copy", sqlite, sqlite]) == 2
    assert "the source and the target are the same store" in capsys.readouterr().err
    assert not os.path.exists(sqlite)


def test_copy_onto_itself_under_another_name_is_refused_and_loses_nothing(tmp_path, pg_url,
                                                                         capsys):
    sqlite = str(tmp_path / "state.sqlite")
    fill(sqlite)
    before = snapshot(sqlite)
    assert main(["store", "copy", sqlite, f"sqlite://{sqlite}", "--force"]) == 2
    assert f"occo store copy: {sqlite} and {sqlite} are the same store; nothing was " \
           f"copied" in capsys.readouterr().err
    assert snapshot(sqlite) == before
    fill(pg_url)
    before = snapshot(pg_url)
    other_spelling = pg_url.replace("postgresql://", "postgres://")
    assert main(["store", "copy", pg_url, other_spelling, "--force"]) == 2
    assert "are the same store" in capsys.readouterr().err
    assert snapshot(pg_url) == before


def test_migrate_applies_once_then_nothing(pg_url, capsys):
    assert main(["--state", pg_url, "store", "migrate"]) == 0
    assert capsys.readouterr().out == f"{pg_url}: applied migration 1; schema version 1\n"
    assert main(["store", "migrate", pg_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"store": pg_url, "applied": [],
                                                   "schema_version": 1}


def test_check_counts_and_writes_nothing(pg_url, capsys):
    # a fresh schema is reported as needing a migration, and left as it is
    assert main(["store", "check", pg_url]) == 1
    assert "needs migrating: schema version 0, this OCCO needs 1: run `occo store migrate`" in \
        capsys.readouterr().out
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        schema = pg_url.rsplit("=", 1)[1]
        assert conn.execute("SELECT count(*) FROM information_schema.schemata WHERE "
                            "schema_name = %s", (schema,)).fetchone()[0] == 0
    fill(pg_url)
    assert main(["store", "check", pg_url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["counts"]["instances"] == 30 and report["counts"]["events"] == 1205


def test_check_of_the_configured_sqlite_store(tmp_path, capsys):
    state = str(tmp_path / "data" / "occo" / "state.sqlite")
    fill(state)
    assert main(["store", "check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{state}: ok\n") and "  infrastructures: 1\n" in out


@pytest.mark.parametrize("value, message", [
    ("postgresql:/x", "postgresql: must be followed by two slashes"),
    ("mysql://db/occo", "unknown scheme mysql://"),
])
def test_bad_store_locations_are_exit_2(value, message, capsys, tmp_path):
    assert main(["store", "check", value]) == 2
    assert message in capsys.readouterr().err
    assert main(["store", "copy", value, str(tmp_path / "x.sqlite")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.sqlite").exists()
