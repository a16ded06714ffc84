"""A damaged record in a store (a row whose JSON does not parse, or parses into something
that is not the record) is reported as DamagedRecord naming the record and the store,
never as a decoding error; the records other than it still read and write; a write that
would change it is refused, and it is left as it was.

The damage is written past the store, the way a disk fault, a bad restore or a hand edit
would: SQLite and PostgreSQL rows by SQL, Redis hashes and lists by redis-py. PostgreSQL
keeps bodies in json columns, so there only well-formed JSON of the wrong shape can be
written. The memory store has nothing outside the process to damage.
"""

from __future__ import annotations

import json
import sqlite3

import psycopg
import pytest
import redis
from conftest import REDIS_URL

from occo.infobroker import (
    DamagedRecord,
    Event,
    InfraRecord,
    InstanceRecord,
    InstanceState,
    ScalingRequest,
    Store,
)

# texts that are not a stored record: broken JSON, JSON of the wrong shape, an object
# with the wrong fields, and a body whose state no OCCO ever wrote
UNPARSEABLE = ["{not json", "", "\x00\x01", '{"node_name": "web", "state": ']
WRONG_SHAPE = ["[1, 2, 3]", '"a string"', "null", "42", '{"unexpected": true}']


def _wrong_state(body: str) -> str:
    return body.replace('"state":"ready"', '"state":"exploded"').replace(
        '"state":"pending"', '"state":"exploded"')


class Damage:
    """Writes a text in place of one stored record, past the store."""

    def __init__(self, backend: str, store: Store, request: pytest.FixtureRequest) -> None:
        self.backend = backend
        self.store = store
        if backend == "postgresql":
            database, schema = request.getfixturevalue("pg_url").split("?schema=")
            self._pg = (database, schema)

    def _pg_connect(self) -> psycopg.Connection:
        database, schema = self._pg
        conn = psycopg.connect(database, autocommit=True)
        conn.execute(f'SET search_path TO "{schema}"')
        return conn

    def _sql(self, statement: str, args: tuple) -> None:
        if self.backend == "sqlite":
            with sqlite3.connect(self.store.path) as conn:
                conn.execute(statement.replace("%s", "?"), args)
            return
        with self._pg_connect() as conn:
            conn.execute(statement, args)

    def _redis(self) -> redis.Redis:
        return redis.Redis.from_url(REDIS_URL, decode_responses=True)

    def _k(self, *parts: str) -> str:
        return ":".join([self.store.prefix, *parts])

    def read_instance(self, infra_id: str, instance_id: str) -> str:
        if self.backend == "redis":
            with self._redis() as r:
                return r.hget(self._k("inst", infra_id), instance_id)
        if self.backend == "sqlite":
            with sqlite3.connect(self.store.path) as conn:
                return conn.execute("SELECT body FROM instances WHERE instance_id = ?",
                                    (instance_id,)).fetchone()[0]
        with self._pg_connect() as conn:
            return conn.execute("SELECT body::text FROM instances WHERE instance_id = %s",
                                (instance_id,)).fetchone()[0]

    def instance(self, infra_id: str, instance_id: str, text: str) -> None:
        if self.backend == "redis":
            with self._redis() as r:
                r.hset(self._k("inst", infra_id), instance_id, text)
        else:
            self._sql("UPDATE instances SET body = %s WHERE instance_id = %s",
                      (text, instance_id))

    def infrastructure(self, infra_id: str, text: str) -> None:
        if self.backend == "redis":
            with self._redis() as r:
                r.hset(self._k("infra", infra_id), "body", text)
        else:
            self._sql("UPDATE infrastructures SET body = %s WHERE infra_id = %s",
                      (text, infra_id))

    def event(self, infra_id: str, position: int, text: str) -> None:
        if self.backend == "redis":
            with self._redis() as r:
                r.lset(self._k("events", infra_id), position - 1, text)
        else:
            self._sql("UPDATE events SET body = %s WHERE infra_id = %s AND position = %s",
                      (text, infra_id, position))

    def request(self, infra_id: str, text: str) -> None:
        if self.backend == "redis":
            with self._redis() as r:
                r.lset(self._k("requests", infra_id), 0, text)
        else:
            self._sql("UPDATE scaling_requests SET body = %s WHERE infra_id = %s",
                      (text, infra_id))


@pytest.fixture(params=["sqlite", "redis", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _wrong_kinds(body: str) -> list[str]:
    """The body with one field of a kind OCCO never writes, for each such field."""
    out = []
    for name, value in [("addresses", "10.0.0.1"), ("private_addresses", {"a": 1}),
                        ("created_at", "yesterday"), ("updated_at", True),
                        ("attempts", 1.5), ("node_name", 7), ("resource", ["x"]),
                        ("failure", "bad")]:
        fields = json.loads(body)
        fields[name] = value
        out.append(json.dumps(fields))
    return out


def _texts(backend: str, body: str) -> list[str]:
    well_formed = [*WRONG_SHAPE, _wrong_state(body), *_wrong_kinds(body)]
    if backend == "postgresql":   # a json column holds only well-formed JSON
        return well_formed
    return [*UNPARSEABLE, *well_formed, body[: len(body) // 2]]


@pytest.fixture
def two(store: Store) -> tuple[str, str, list[str]]:
    """Two infrastructures of three instances each; the ids of the first's instances."""
    ids = []
    for infra_id in ("infra-a", "infra-b"):
        store.create_infrastructure(InfraRecord(infra_id=infra_id, name=infra_id,
                                                description={"nodes": []}))
        recs = [InstanceRecord(instance_id=f"{infra_id}-{n}", infra_id=infra_id,
                               node_name="web", state=InstanceState.READY,
                               implementation={"resource": {"type": "dummy"}},
                               created_at=1000.0 + n) for n in range(3)]
        store.add_instances(recs)
        store.append_event(Event(type="infra.created", infra_id=infra_id))
        store.append_event(Event(type="infra.ready", infra_id=infra_id))
        if infra_id == "infra-a":
            ids = [r.instance_id for r in recs]
    return "infra-a", "infra-b", ids


def test_a_damaged_instance_is_named_and_the_rest_of_the_store_still_works(
        backend, store, two, request):
    damaged_infra, other, ids = two
    damage = Damage(backend, store, request)
    body = damage.read_instance(damaged_infra, ids[1])
    for text in _texts(backend, body):
        damage.instance(damaged_infra, ids[1], text)
        with pytest.raises(DamagedRecord) as caught:
            store.list_instances(damaged_infra)
        exc = caught.value
        assert (exc.kind, exc.key, exc.infra_id) == ("instance", ids[1], damaged_infra), text
        assert str(store.url) in str(exc) and ids[1] in str(exc), str(exc)
        assert "left untouched" in str(exc)
        with pytest.raises(DamagedRecord):
            store.get_instance(ids[1])
        # the other records read and write as before
        assert store.get_instance(ids[0]).state == InstanceState.READY
        assert len(store.list_instances(other)) == 3
        store.update_instance(f"{other}-0", expected_version=None,
                              state=InstanceState.FAILED)
        assert [i.infra_id for i in store.list_infrastructures()] == [damaged_infra, other]
        # a write to the damaged record is refused and leaves it as it was
        with pytest.raises(DamagedRecord):
            store.update_instance(ids[1], expected_version=None, state=InstanceState.FAILED)
        with pytest.raises(DamagedRecord):
            store.update_instances({ids[0]: {"state": InstanceState.FAILED},
                                    ids[1]: {"state": InstanceState.FAILED}})
        if backend != "postgresql":   # json columns normalise nothing, but compare as text
            assert damage.read_instance(damaged_infra, ids[1]) == text
        assert store.get_instance(ids[0]).state == InstanceState.READY, "batch half-written"


def test_a_damaged_infrastructure_is_named_and_the_others_are_listed(backend, store, two, request):
    damaged_infra, other, _ = two
    damage = Damage(backend, store, request)
    for text in ["[]", '{"name": 5}', "null"] + ([] if backend == "postgresql" else
                                                   ["{broken", ""]):
        damage.infrastructure(damaged_infra, text)
        with pytest.raises(DamagedRecord) as caught:
            store.get_infrastructure(damaged_infra)
        assert (caught.value.kind, caught.value.key) == ("infrastructure", damaged_infra)
        with pytest.raises(DamagedRecord):
            store.list_infrastructures()
        found: list[DamagedRecord] = []
        assert [r.infra_id for r in store.list_infrastructures(damaged=found)] == [other]
        assert [d.key for d in found] == [damaged_infra]
        with pytest.raises(DamagedRecord):
            store.update_infrastructure(damaged_infra, expected_version=None,
                                        status="building")
        assert store.get_infrastructure(other).name == other


def test_a_damaged_event_names_its_position(backend, store, two, request):
    damaged_infra, other, _ = two
    damage = Damage(backend, store, request)
    for text in ['{"type": "x"}', "[]"] + ([] if backend == "postgresql" else ["{"]):
        damage.event(damaged_infra, 2, text)
        with pytest.raises(DamagedRecord) as caught:
            store.read_events(damaged_infra)
        assert (caught.value.kind, caught.value.key) == ("event", "#2")
        assert [e.type for e in store.read_events(damaged_infra, limit=1)] == ["infra.created"]
        assert len(store.read_events(other)) == 2


def test_a_damaged_scaling_request_is_named_and_stays_queued(backend, store, two, request):
    damaged_infra, _, _ = two
    store.push_scaling_request(ScalingRequest(infra_id=damaged_infra, node_name="web",
                                              kind="create", count=1))
    damage = Damage(backend, store, request)
    damage.request(damaged_infra, '{"kind": "create"}')
    with pytest.raises(DamagedRecord) as caught:
        store.peek_scaling_requests(damaged_infra)
    assert (caught.value.kind, caught.value.key) == ("scaling request", "#1")
    with pytest.raises(DamagedRecord):
        store.peek_scaling_requests(damaged_infra)
