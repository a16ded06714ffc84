"""A build whose PostgreSQL state loses its connections midway, against the real server.

- The server ends every connection of the store several times during the build (what a
  restart does to them): the build goes on and ends ready, with every instance recorded
  once, one cloud resource per instance and each event once.
- The database refuses connections for longer than the store's bounded retries: the build
  fails with the store's error (no traceback), within a bounded time; once the database
  is back, building again finishes the job with exactly the wanted nodes at the cloud.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg
import pytest
import yaml
from e2e import Setup, cloud_nodes, write_description

from occo.util import OccoError

APPS = 12
LEASE_TTL = 2    # the leases the failed build could not release expire after it
SLOW = [{"resource": {"type": "dummy", "create_latency": 0.4}}]


def description(setup: Setup):
    return write_description(setup.root / "d", "pg-faults", {
        "db": {"type": "t"}, "app": {"type": "t", "scaling": {"min": APPS, "max": APPS}},
        "lb": {"type": "t"}}, [("app", "db"), ("lb", "app")], {"t": SLOW})


@pytest.fixture
def setup(tmp_path, pg_url):
    setup = Setup(tmp_path)
    setup.write_config()
    setup.config["store"] = {"backend": "postgresql", "url": pg_url}
    setup.config["maintenance"]["lease_ttl"] = LEASE_TTL
    setup.config_file.write_text(yaml.safe_dump(setup.config))
    return setup


def end_connections(database_url: str) -> int:
    """What a server restart does to the store's connections: their backends end."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres",
                         autocommit=True) as admin:
        return admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()",
                             (name,)).fetchone()[0]


def allow_connections(database_url: str, allowed: bool) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres",
                         autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')


def assert_exactly_once(occo, setup: Setup, infra_id: str) -> None:
    instances = occo.store.list_instances(infra_id)
    assert Counter(i.node_name for i in instances) == {"db": 1, "app": APPS, "lb": 1}
    assert all(str(i.state) == "ready" for i in instances)
    stored = occo.store.get_infrastructure(infra_id).description
    at_cloud = cloud_nodes(setup, stored, infra_id)
    assert len(at_cloud) == APPS + 2, at_cloud
    ready = Counter(e["instance_id"] for e in occo.events(infra_id)
                    if e["type"] == "node.ready")
    assert set(ready) == {i.instance_id for i in instances}
    assert set(ready.values()) == {1}, "an event was written twice"


def test_connections_ended_during_a_build_are_survived(setup, pg_database):
    infra = description(setup)
    ended: list[int] = []
    done = threading.Event()

    def restarts() -> None:
        time.sleep(0.3)
        while not done.is_set() and len(ended) < 4:
            ended.append(end_connections(pg_database))
            time.sleep(0.35)

    with setup.occo() as occo:
        thread = threading.Thread(target=restarts, daemon=True)
        thread.start()
        try:
            result = occo.build(infra)
        finally:
            done.set()
            thread.join(timeout=10)
        assert sum(ended) >= 2, f"the build was not interrupted: {ended}"
        assert result["status"] == "ready", result
        assert_exactly_once(occo, setup, result["infra_id"])


def test_a_database_gone_for_longer_than_the_retries_fails_the_build_then_it_resumes(
        setup, pg_database):
    infra = description(setup)
    with setup.occo() as occo:
        occo.validate(infra)
        outage = threading.Timer(0.6, lambda: (allow_connections(pg_database, False),
                                               end_connections(pg_database)))
        outage.start()
        started = time.monotonic()
        try:
            with pytest.raises(OccoError) as caught:   # the processor's StoreUnavailable
                occo.build(infra)
        finally:
            outage.join()
        assert time.monotonic() - started < 60
        assert "PostgreSQL at" in str(caught.value) and "unreachable" in str(caught.value)
    allow_connections(pg_database, True)
    time.sleep(LEASE_TTL + 0.5)
    with setup.occo() as occo:
        infra_id = occo.readable_infrastructures()[0].infra_id
        result = occo.build(infra, infra_id=infra_id)
        assert result["status"] == "ready", result
        assert_exactly_once(occo, setup, infra_id)


def test_the_cli_says_the_store_is_unreachable(setup, pg_database):
    infra = description(setup)
    allow_connections(pg_database, False)
    try:
        proc = setup.cli("build", str(infra), timeout=120)
    finally:
        allow_connections(pg_database, True)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "PostgreSQL at" in proc.stderr and "unreachable" in proc.stderr, proc.stderr
