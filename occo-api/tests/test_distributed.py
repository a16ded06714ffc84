"""OCCO on several processes: Redis holds the state, RabbitMQ carries the work, and
`occo worker` processes (two cloud handlers, a service composer, a processor) do it.

Faults, each a test: a cloud handler worker killed mid-creates, the broker connection
cut mid-build, and two maintainers on one infrastructure.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter

import pytest
from distributed import AMQP, Cluster
from e2e import local_definition, write_description

from occo.infobroker import open_store
from occo.util.testing import FaultProxy, wait_until


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    made: list[Cluster] = []

    def make(**kwargs) -> Cluster:
        c = Cluster.create(tmp_path / f"c{len(made)}", **kwargs)
        # the test process reads the same store, with the same secret key, as the workers
        for name, value in c.setup.env().items():
            if name.startswith("XDG_"):
                monkeypatch.setenv(name, value)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
        c.cleanup()


def mixed(directory, apps=40, webs=9):
    dummy = {"resource": {"type": "dummy", "create_latency": 0.1}, "health_check": {}}
    local = local_definition("exec sleep 600", health_check={"ping": False})
    return write_description(directory, "spread", {
        "db": {"type": "local_t"},
        "app": {"type": "dummy_t", "scaling": {"min": apps, "max": apps + 10}},
        "web": {"type": "local_t", "scaling": {"min": webs, "max": webs + 5}}},
        [("app", "db"), ("web", "app")], {"local_t": [local], "dummy_t": [dummy]})


def store_of(cluster: Cluster):
    return open_store(f"redis://127.0.0.1:6379/0?prefix={cluster.prefix}")


def cloud_ids(cluster: Cluster, infra_id: str, description: dict) -> list[str]:
    resources = [i["resource"] for n in description["nodes"] for i in n["implementations"]]
    return [ref["instance_id"] for ref in cluster.setup.cloud().list_nodes(infra_id, resources)]


def assert_cloud_matches_store(cluster: Cluster, infra_id: str, wanted: int) -> None:
    store = store_of(cluster)
    try:
        instances = store.list_instances(infra_id)
        description = store.get_infrastructure(infra_id).description
    finally:
        store.close()
    counts = Counter(cloud_ids(cluster, infra_id, description))
    assert [i for i, n in counts.items() if n > 1] == [], "duplicate resources"
    assert set(counts) == {i.instance_id for i in instances}, "orphans or missing resources"
    assert len(instances) == wanted and all(str(i.state) == "ready" for i in instances)


def wait_for_creates(store, count: int) -> None:
    """Until the (only) infrastructure's log shows ``count`` instances being created."""
    def under_way():
        infras = store.list_infrastructures()
        return infras and sum(e.type == "node.creating" for e in store.read_events(
            infras[0].infra_id, after=0, limit=100_000)) >= count
    wait_until(under_way, timeout=120, what=f"{count} creates under way")


def build(cluster: Cluster, infra) -> dict:
    proc = cluster.setup.cli("build", str(infra), "--json", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)["result"]


def test_a_50_node_build_through_rabbitmq_and_redis(cluster, tmp_path):
    c = cluster()
    c.start("cloudhandler", 2)
    c.start("servicecomposer")
    c.start("infraprocessor")
    result = build(c, mixed(tmp_path / "d"))
    assert result["status"] == "ready" and result["ready"] == 50
    assert_cloud_matches_store(c, result["infra_id"], 50)
    status = json.loads(c.setup.cli("status", "-i", result["infra_id"], "--json",
                                    check=True).stdout)
    assert {n["name"]: n["scaling"]["actual"] for n in status["nodes"]} == \
        {"db": 1, "app": 40, "web": 9}
    gone = c.setup.cli("destroy", "-i", result["infra_id"], "--json", check=True)
    assert json.loads(gone.stdout)["status"] == "destroyed"


def test_a_cloud_handler_worker_killed_mid_creates(cluster, tmp_path):
    c = cluster(processing={"max_parallel": 4, "batch_size": 2})
    first, _ = c.start("cloudhandler", 2)
    c.start("servicecomposer")
    c.start("infraprocessor")
    infra = mixed(tmp_path / "d", apps=120, webs=2)
    building = c.setup.spawn("build", str(infra), "--json")
    store = store_of(c)
    try:
        wait_for_creates(store, 20)
        c.kill(first)  # SIGKILL: its unacknowledged requests go to the other worker
        out, err = building.communicate(timeout=300)
        assert building.returncode == 0, err[-3000:]
        result = json.loads(out)["result"]
        assert result["status"] == "ready" and result["ready"] == 123
        assert_cloud_matches_store(c, result["infra_id"], 123)
    finally:
        store.close()
        if building.poll() is None:
            building.kill()


@pytest.mark.slow
def test_clients_reconnect_when_the_broker_connection_drops(cluster, tmp_path):
    proxy = FaultProxy(("127.0.0.1", 5672))
    try:
        c = cluster(amqp_url=AMQP.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}"),
                    processing={"max_parallel": 8, "batch_size": 4})
        c.start("cloudhandler", 2)
        c.start("servicecomposer")
        c.start("infraprocessor")
        building = c.setup.spawn("build", str(mixed(tmp_path / "d", apps=80, webs=2)),
                                 "--json")
        store = store_of(c)
        try:
            wait_for_creates(store, 10)
            assert proxy.cut() >= 5  # every worker's and the builder's connections
            out, err = building.communicate(timeout=300)
            assert building.returncode == 0, err[-3000:]
            result = json.loads(out)["result"]
            assert result["status"] == "ready" and result["ready"] == 83
            assert_cloud_matches_store(c, result["infra_id"], 83)
        finally:
            store.close()
            if building.poll() is None:
                building.kill()
    finally:
        proxy.close()


@pytest.mark.slow
def test_two_maintainers_only_the_lease_holder_acts(cluster, tmp_path):
    c = cluster(maintenance={"lease_ttl": 3})
    c.start("cloudhandler")
    c.start("servicecomposer")
    c.start("infraprocessor")
    slow = {"resource": {"type": "dummy", "create_latency": 3}, "health_check": {}}
    infra = write_description(tmp_path / "d", "kept", {
        "web": {"type": "t", "scaling": {"min": 2, "max": 8}}}, [], {"t": [slow]})
    infra_id = build(c, infra)["infra_id"]
    maintainers = [c.setup.spawn("maintain", "-i", infra_id, "--interval", "0.3")
                   for _ in range(2)]
    store = store_of(c)
    try:
        for proc in maintainers:
            assert "maintaining" in proc.stdout.readline()
        c.setup.cli("scale", "-i", infra_id, "-n", "web", "-s", "5", "--queue-only",
                    check=True)
        pids = {p.pid for p in maintainers}

        def holder_pid():
            held = store.lease_holder(f"maintain:{infra_id}")
            return held and int(held[0].rsplit(":", 2)[1])
        # the pass that applies the request holds the lease while its 3 new nodes start
        acting = wait_until(lambda: (lambda p: p if p in pids else None)(holder_pid()),
                          timeout=60, interval=0.01, what="a maintainer to take the lease")
        assert holder_pid() == acting
        victim = next(p for p in maintainers if p.pid == acting)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(10)
        survivor = next(p for p in maintainers if p.pid != acting)
        wait_until(lambda: holder_pid() == survivor.pid, timeout=30, interval=0.02,
                 what="the other maintainer to take over")

        def scaled():
            instances = store.list_instances(infra_id)
            return len(instances) == 5 and all(str(i.state) == "ready" for i in instances)
        wait_until(scaled, timeout=60, interval=0.2, what="the scale-up to be finished")
        assert_cloud_matches_store(c, infra_id, 5)
    finally:
        store.close()
        for proc in maintainers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
            proc.stdout.close()
            proc.stderr.close()
