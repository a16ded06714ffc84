"""PostgreSQL specifics, on the real server: faults in the middle of operations (through a
proxy we break on purpose, and by ending the store's server processes as a restart does),
statement timeouts, schema migrations and their lock, and schemas this OCCO must not use."""

from __future__ import annotations

import threading

import psycopg
import pytest
from conftest import PG_HOST, PG_PORT

from occo.infobroker import (
    Event,
    InfraRecord,
    InstanceRecord,
    NotFound,
    PostgreSQLStore,
    ScalingRequest,
    SchemaTooNew,
    SecretBox,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
)
from occo.infobroker._pg_schema import LATEST
from occo.util.testing import FaultProxy


def schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


def database_of(url: str) -> str:
    return url.split("?", 1)[0]


@pytest.fixture
def direct(pg_url, key_path):
    """A store talking to PostgreSQL directly: the truth to check against."""
    store = PostgreSQLStore(pg_url, secrets=SecretBox(key_path))
    yield store
    store.close()


@pytest.fixture
def proxy(pg_url):
    proxy = FaultProxy((PG_HOST, PG_PORT))
    yield proxy
    proxy.close()


@pytest.fixture
def proxied(proxy, pg_url, direct, key_path):
    """A store whose connections go through the proxy; few, fast retries."""
    url = pg_url.replace(f"{PG_HOST}:{PG_PORT}", f"127.0.0.1:{proxy.port}")
    store = PostgreSQLStore(url, secrets=SecretBox(key_path), reconnects=2, retry_delay=0.01,
                            connect_timeout=2, max_connections=1)
    yield store
    store.close()


def instances(infra_id: str, count: int) -> list[InstanceRecord]:
    return [InstanceRecord(instance_id=f"{infra_id}-{n}", infra_id=infra_id, node_name="web",
                           implementation={"type": "web", "image": "x" * 200},
                           addresses=[f"10.1.{n // 250}.{n % 250}"]) for n in range(count)]


def test_a_write_whose_commit_reply_was_lost_is_done_exactly_once(proxied, proxy, direct):
    proxied.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    before = proxy.accepted
    proxy.drop_reply_after(b"COMMIT")
    proxied.push_scaling_request(ScalingRequest(infra_id="i", node_name="web", kind="create"))
    assert proxy.accepted > before                 # it reconnected
    assert len(direct.peek_scaling_requests("i")) == 1   # and the push happened once

    proxy.drop_reply_after(b"COMMIT")
    assert proxied.append_events([Event(type="a", infra_id="i"),
                                  Event(type="b", infra_id="i")]) == [1, 2]
    assert [e.type for e in direct.read_events("i")] == ["a", "b"]

    proxy.drop_reply_after(b"COMMIT")
    proxied.add_instances(instances("i", 3))       # no AlreadyExists from its own retry
    assert len(direct.list_instances("i")) == 3

    proxy.drop_reply_after(b"COMMIT")
    taken = proxied.take_scaling_requests("i")     # the retry returns what was taken
    assert [r.kind for r in taken] == ["create"]
    assert direct.peek_scaling_requests("i") == []

    proxy.drop_reply_after(b"COMMIT")
    rec = proxied.update_instance("i-0", expected_version=1, state="ready")
    assert rec.version == 2                        # not a VersionConflict with itself
    assert direct.get_instance("i-0").version == 2


def test_the_connection_cut_mid_batch_writes_nothing_and_says_so(proxied, proxy, direct):
    proxied.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    batch = instances("i", 2000)                   # about 1 MB on the wire
    proxy.cut_request_after(100_000)               # then the server is gone
    with pytest.raises(StoreUnavailable) as err:
        proxied.add_instances(batch)
    message = str(err.value)
    assert message.startswith(f"PostgreSQL at {proxied.url}: it is unreachable (")
    assert message.endswith("gave up adding instances after 3 attempts. The operation was "
                            "either done completely or not at all")
    assert direct.list_instances("i") == []        # nothing half-written
    with pytest.raises(NotFound):
        direct.get_instance("i-0")
    proxy.allow()                                  # the server is back: the store works
    proxied.add_instances(batch[:10])
    assert len(direct.list_instances("i")) == 10


def test_a_server_restart_between_operations_is_survived(direct, pg_url):
    direct.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    direct.add_instances(instances("i", 5))
    # what a restart does to the store's connections: every server process of them ends
    with psycopg.connect(database_of(pg_url), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
            "datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert ended >= 1
    direct.update_instances({"i-0": {"state": "ready"}})
    assert direct.get_instance("i-0").version == 2
    assert len(direct.list_instances("i")) == 5


def test_a_statement_timeout_is_retried_a_bounded_number_of_times(pg_url, key_path, direct):
    direct.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    store = PostgreSQLStore(pg_url, secrets=SecretBox(key_path), statement_timeout=0.2,
                            reconnects=1, retry_delay=0.01)
    with psycopg.connect(database_of(pg_url)) as holder:     # holds the row's lock
        holder.execute(f'SELECT 1 FROM "{schema_of(pg_url)}".infrastructures '
                       f"WHERE infra_id = 'i' FOR UPDATE")
        with pytest.raises(StoreUnavailable) as err:
            store.update_infrastructure("i", expected_version=1, status="ready")
        holder.rollback()
    assert str(err.value).startswith(
        f"PostgreSQL at {store.url}: a statement ran longer than the statement timeout of "
        f"0.2 s (canceling statement due to statement timeout); gave up updating an "
        f"infrastructure after 2 attempts. The operation was either done completely or not "
        f"at all")
    assert direct.get_infrastructure("i").version == 1         # nothing applied
    assert store.update_infrastructure("i", expected_version=1, status="ready").version == 2
    store.close()


def test_processes_opening_a_new_schema_at_once_migrate_it_once(pg_url, key_path):
    stores: list[PostgreSQLStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            stores.append(PostgreSQLStore(pg_url, secrets=SecretBox(key_path)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(stores) == 4
    with psycopg.connect(database_of(pg_url)) as conn:
        versions = conn.execute(f'SELECT version FROM "{schema_of(pg_url)}".schema_migrations '
                                f"ORDER BY version").fetchall()
    assert [v for (v,) in versions] == list(range(1, LATEST + 1))
    for store in stores:
        assert store.schema_version == LATEST
        store.close()


def test_a_schema_of_a_newer_occo_is_refused_untouched(direct, pg_url, key_path):
    direct.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    with psycopg.connect(database_of(pg_url), autocommit=True) as conn:
        conn.execute(f'INSERT INTO "{schema_of(pg_url)}".schema_migrations (version, '
                     f"description) VALUES (99, 'from the future')")
        with pytest.raises(SchemaTooNew, match=r"was written by a newer OCCO \(schema 99; "
                                               r"this one reads up to 1\); it was left "
                                               r"untouched") as err:
            PostgreSQLStore(pg_url, secrets=SecretBox(key_path))
        assert (err.value.found, err.value.supported) == (99, LATEST)
        assert conn.execute(f'SELECT max(version) FROM "{schema_of(pg_url)}".'
                            f"schema_migrations").fetchone()[0] == 99
    assert direct.get_infrastructure("i").name == "x"


def test_a_schema_holding_other_tables_is_refused_untouched(pg_url, key_path):
    schema = schema_of(pg_url)
    with psycopg.connect(database_of(pg_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".customers (id int)')
        with pytest.raises(StoreCorrupt, match=f"the PostgreSQL schema '{schema}' of .* holds "
                                               f"tables that are not OCCO's \\(customers\\)"):
            PostgreSQLStore(pg_url, secrets=SecretBox(key_path))
        tables = conn.execute("SELECT table_name FROM information_schema.tables WHERE "
                              "table_schema = %s", (schema,)).fetchall()
    assert tables == [("customers",)]


def test_without_migrate_a_schema_that_needs_it_is_refused(pg_url, key_path):
    with pytest.raises(StoreError, match=r"is at schema version 0; this OCCO needs 1: run "
                                         r"`occo store migrate`"):
        PostgreSQLStore(pg_url, secrets=SecretBox(key_path), migrate=False)
    with psycopg.connect(database_of(pg_url)) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.schemata WHERE "
                            "schema_name = %s", (schema_of(pg_url),)).fetchone()[0] == 0
    store = PostgreSQLStore(pg_url, secrets=SecretBox(key_path))
    assert store.migrate() == []                  # already done on open
    store.close()


def test_bodies_are_stored_as_the_codec_wrote_them(direct, pg_url):
    big = 2 ** 70
    direct.create_infrastructure(InfraRecord(infra_id="i", name="x",
                                             description={"n": big, "z": 1, "a": 2}))
    with psycopg.connect(database_of(pg_url)) as conn:
        kind, text = conn.execute(
            f"SELECT pg_typeof(description)::text, description::text FROM "
            f'"{schema_of(pg_url)}".infrastructures').fetchone()
    assert kind == "json"
    assert text == f' {{"n":{big},"z":1,"a":2}}'    # key order and the marker kept
    assert direct.get_infrastructure("i").description["n"] == big


def test_purge_drops_the_schema(direct, pg_url):
    direct.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    direct.purge()
    with psycopg.connect(database_of(pg_url)) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.schemata WHERE "
                            "schema_name = %s", (schema_of(pg_url),)).fetchone()[0] == 0
