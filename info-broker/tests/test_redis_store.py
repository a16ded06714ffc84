"""Redis specifics: faults in the middle of operations (through a proxy we break on
purpose, never by stopping the shared Redis), key prefixes, schema versions."""

from __future__ import annotations

import socket

import pytest
from conftest import REDIS_HOST, REDIS_PORT, REDIS_URL

from occo.infobroker import (
    BadStateLocation,
    Event,
    InfraRecord,
    InstanceRecord,
    NotFound,
    RedisStore,
    ScalingRequest,
    SchemaTooNew,
    SecretBox,
    StoreUnavailable,
)
from occo.util.secrets import forget_secrets
from occo.util.testing import FaultProxy


@pytest.fixture
def proxy(redis_prefix):
    proxy = FaultProxy((REDIS_HOST, REDIS_PORT))
    yield proxy
    proxy.close()


@pytest.fixture
def direct(redis_prefix, key_path):
    """A store talking to Redis directly: the truth to check against."""
    store = RedisStore(REDIS_URL, redis_prefix, secrets=SecretBox(key_path))
    yield store
    store.close()


@pytest.fixture
def proxied(proxy, redis_prefix, key_path):
    """A store whose connections go through the proxy; few, fast reconnects."""
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}/0", redis_prefix,
                       secrets=SecretBox(key_path), reconnects=2, retry_delay=0.01, timeout=5)
    yield store
    store.close()


def instances(infra_id: str, count: int) -> list[InstanceRecord]:
    return [InstanceRecord(instance_id=f"{infra_id}-{n}", infra_id=infra_id, node_name="web",
                           implementation={"type": "web", "image": "x" * 200},
                           addresses=[f"10.1.{n // 250}.{n % 250}"]) for n in range(count)]


def test_a_write_whose_reply_was_lost_is_retried_exactly_once(proxied, proxy, direct):
    proxied.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    before = proxy.accepted
    proxy.drop_next_reply()
    proxied.push_scaling_request(ScalingRequest(infra_id="i", node_name="web", kind="create"))
    assert proxy.accepted == before + 1            # it reconnected once
    assert len(direct.peek_scaling_requests("i")) == 1   # and the push happened once

    proxy.drop_next_reply()
    assert proxied.append_events([Event(type="a", infra_id="i"),
                                  Event(type="b", infra_id="i")]) == [1, 2]
    assert [e.type for e in direct.read_events("i")] == ["a", "b"]

    proxy.drop_next_reply()
    proxied.add_instances(instances("i", 3))       # no AlreadyExists from its own retry
    assert len(direct.list_instances("i")) == 3

    proxy.drop_next_reply()
    taken = proxied.take_scaling_requests("i")     # the retry returns what was taken
    assert [r.kind for r in taken] == ["create"]
    assert direct.peek_scaling_requests("i") == []


def test_redis_going_away_mid_batch_writes_nothing_and_says_so(proxied, proxy, direct):
    proxied.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    batch = instances("i", 2000)                   # about 1 MB on the wire
    before = proxy.accepted
    proxy.cut_request_after(100_000)               # then Redis is gone for good
    with pytest.raises(StoreUnavailable) as err:
        proxied.add_instances(batch)
    message = str(err.value)
    assert message.startswith(f"Redis at redis://127.0.0.1:{proxy.port}/0 is unreachable (")
    assert message.endswith("gave up adding instances after 3 attempts. The operation was "
                            "either done completely or not at all")
    assert proxy.accepted - before <= 2            # bounded: two reconnects, both refused
    assert direct.list_instances("i") == []        # nothing half-written
    with pytest.raises(NotFound):
        direct.get_instance("i-0")
    # when Redis is back, the same store works again
    proxy.allow()
    proxied.add_instances(batch[:10])
    assert len(direct.list_instances("i")) == 10


def test_redis_going_away_mid_update_leaves_the_old_values(proxied, proxy, direct):
    proxied.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    proxied.add_instances(instances("i", 500))
    proxy.cut_request_after(30_000)
    with pytest.raises(StoreUnavailable):
        proxied.update_instances({f"i-{n}": {"state": "ready", "addresses": ["9.9.9.9"] * 20}
                                  for n in range(500)})
    assert {(r.state, r.version) for r in direct.list_instances("i")} == {("pending", 1)}


def test_unreachable_redis_is_reported_without_the_password(key_path):
    with socket.socket() as probe:                 # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        with pytest.raises(StoreUnavailable) as err:
            RedisStore(f"redis://:s3cr3t-pass@127.0.0.1:{port}/0", "occo-test-none",
                       secrets=SecretBox(key_path), reconnects=1, retry_delay=0.01)
        assert "s3cr3t-pass" not in str(err.value)
        assert err.value.url == f"redis://:***@127.0.0.1:{port}/0"
        assert str(err.value).startswith(f"Redis at redis://:***@127.0.0.1:{port}/0 is "
                                         f"unreachable")
        assert "gave up reading the schema version after 2 attempts" in str(err.value)
    finally:
        forget_secrets()


def test_a_store_of_a_newer_schema_is_refused_untouched(redis_prefix, direct, key_path):
    direct.create_infrastructure(InfraRecord(infra_id="i", name="x"))
    raw = direct._redis
    raw.hset(f"{redis_prefix}:meta", "schema", 99)
    keys_before = sorted(raw.scan_iter(match=f"{redis_prefix}:*"))
    with pytest.raises(SchemaTooNew, match=r"was written by a newer OCCO \(schema 99; this one "
                                           r"reads up to 1\); it was left untouched") as err:
        RedisStore(REDIS_URL, redis_prefix, secrets=SecretBox(key_path))
    assert err.value.found == 99
    assert sorted(raw.scan_iter(match=f"{redis_prefix}:*")) == keys_before
    assert raw.hget(f"{redis_prefix}:meta", "schema") == "99"


@pytest.mark.parametrize("prefix", ["", "has space", "glob*", "x" * 101])
def test_bad_prefix_is_refused(prefix, key_path):
    with pytest.raises(BadStateLocation, match="the Redis key prefix .* is not allowed"):
        RedisStore(REDIS_URL, prefix, secrets=SecretBox(key_path))


def test_prefixes_keep_stores_apart(redis_prefix, key_path, direct):
    other_prefix = redis_prefix + "-other"
    other = RedisStore(REDIS_URL, other_prefix, secrets=SecretBox(key_path))
    try:
        direct.create_infrastructure(InfraRecord(infra_id="same-id", name="mine"))
        other.create_infrastructure(InfraRecord(infra_id="same-id", name="theirs"))
        assert direct.get_infrastructure("same-id").name == "mine"
        assert [r.name for r in other.list_infrastructures()] == ["theirs"]
        keys = list(direct._redis.scan_iter(match="*"))
        assert keys and all(k.startswith(redis_prefix + ":") or not k.startswith(redis_prefix)
                            or k.startswith(other_prefix + ":") for k in keys)
        other.purge()
        assert list(direct._redis.scan_iter(match=f"{other_prefix}:*")) == []
        assert direct.get_infrastructure("same-id").name == "mine"
    finally:
        other.purge()
        other.close()


def test_a_record_written_before_checked_at_existed_reads_and_updates(direct, redis_prefix):
    direct.create_infrastructure(InfraRecord(infra_id="old", name="x"))
    direct.add_instances(instances("old", 1))
    raw = direct._redis
    body = raw.hget(f"{redis_prefix}:inst:old", "old-0")
    stripped = body.replace('"checked_at":null,', "")
    assert stripped != body and "checked_at" not in stripped
    raw.hset(f"{redis_prefix}:inst:old", "old-0", stripped)
    assert direct.get_instance("old-0").checked_at is None
    direct.update_instances({"old-0": {"checked_at": 42.0}})
    # the read script finds the implementation by the body's last key: still "impl"
    got = direct.get_instance("old-0")
    assert (got.checked_at, got.version) == (42.0, 2)
    assert got.implementation == {"type": "web", "image": "x" * 200}
