"""Crash safety: `occo build` killed with SIGKILL at random moments, then run again.

For each round a 30-node build (1 db, 28 app, 1 lb) is started as a real `occo build`
process and killed with SIGKILL once the store's event log reaches a randomly chosen
position (plus a random few milliseconds), so the kills land in every phase: before any
intent, between an intent and its cloud call, during creates, while polling, while
dependents start. `occo build` is then run again to completion, and the cloud is counted
against the store: every instance the store holds exists exactly once in the cloud, the
cloud holds nothing the store does not know (0 orphans, 0 duplicates), and 30 nodes are
ready. The infrastructure is destroyed before the next round and must leave nothing.

On nova (a real OpenStack on loopback, occo.cloudhandler.testing.openstackenv) the build
is 6 nodes and each round kills 4 builds in a row, each resuming what the last left,
before the build that completes: 20 kills in 5 rounds.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter

import pytest
from e2e import (
    Setup,
    ec2_auth_data,
    ec2_definition,
    local_definition,
    nova_auth_data,
    nova_resource,
    nova_servers,
    start_moto,
    write_description,
)

from occo.cloudhandler.nova import untag
from occo.infobroker import SQLiteStore
from occo.util import TAG_INSTANCE
from occo.util.testing import wait_until

# minutes of kills and rebuilds: the full run only, not the fast run on other Pythons
pytestmark = pytest.mark.slow

ROUNDS = 20
APPS = 28


@pytest.fixture(scope="module")
def moto():
    server = start_moto()
    yield server
    server.stop()


def description(directory, definition, apps: int = APPS):
    return write_description(directory, "crash", {
        "db": {"type": "db_t"},
        "app": {"type": "app_t", "scaling": {"min": apps, "max": apps}},
        "lb": {"type": "lb_t"}}, [("app", "db"), ("lb", "app")],
        {"db_t": [definition], "app_t": [definition], "lb_t": [definition]})


def infra_of(store: SQLiteStore):
    found = [r for r in store.list_infrastructures() if r.name == "crash"]
    return found[0] if found else None


def events_so_far(store: SQLiteStore) -> int:
    record = infra_of(store)
    if record is None:
        return 0
    return len(store.read_events(record.infra_id, after=0, limit=100_000))


def kill_at_random_moment(setup: Setup, infra, rng: random.Random, events_in_a_build: int):
    """Start `occo build`, kill it with SIGKILL at a random point of its event log (counted
    from the events already there, when an earlier build of the round was killed too)."""
    target = rng.randint(0, events_in_a_build)
    store = SQLiteStore(setup.state)
    start = events_so_far(store)
    proc = setup.spawn("build", str(infra))
    try:
        def reached():
            if proc.poll() is not None or target == 0:
                return True
            return events_so_far(store) >= start + target
        wait_until(reached, timeout=120, interval=0.005, what=f"{target} events")
        threading.Event().wait(rng.uniform(0, 0.03))  # land between events too
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:   # it finished first (a resumed build has less to do)
            pass
        proc.wait(30)
        return target
    finally:
        store.close()


def check_cloud_matches_store(setup: Setup, cloud_ids: list[str], nodes: int = APPS + 2):
    """The store's instances exist once each in the cloud, and nothing else does."""
    with setup.occo() as occo:
        record = infra_of(occo.store)
        instances = occo.store.list_instances(record.infra_id)
        stored = {i.instance_id for i in instances}
        counts = Counter(cloud_ids)
        duplicates = [iid for iid, n in counts.items() if n > 1]
        orphans = set(counts) - stored
        missing = stored - set(counts)
        assert (duplicates, orphans, missing) == ([], set(), set())
        assert len(instances) == nodes
        assert [(i.node_name, str(i.state), str(i.intent), i.failure) for i in instances
                if str(i.state) != "ready"] == []
        return record.infra_id


def run_rounds(setup: Setup, infra, cloud_ids, seed: int, *, rounds: int = ROUNDS,
               kills_per_round: int = 1, nodes: int = APPS + 2):
    """``rounds`` times: ``kills_per_round`` builds killed one after the other (each
    resuming what the last left), a build run to completion, the cloud counted against the
    store, and a destroy that must leave nothing."""
    rng = random.Random(seed)
    with setup.occo() as occo:  # one undisturbed build: how many events a build writes
        full = occo.build(infra)
        assert full["status"] == "ready"
        events_in_a_build = len(occo.events(full["infra_id"]))
        occo.destroy(full["infra_id"])
    moments = []
    for _ in range(rounds):
        for _ in range(kills_per_round):
            moments.append(kill_at_random_moment(setup, infra, rng, events_in_a_build))
        rerun = setup.cli("build", str(infra), "--json")
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        infra_id = check_cloud_matches_store(setup, cloud_ids(infra_id_of(setup)), nodes)
        with setup.occo() as occo:
            assert occo.destroy(infra_id)["status"] == "destroyed"
        # a cloud may finish a delete it accepted a moment later (nova: task_state deleting)
        wait_until(lambda done=infra_id: cloud_ids(done) == [], timeout=60,
                   what="the cloud to hold nothing of the destroyed infrastructure")
    # the kills really were spread over the build
    assert len(moments) == rounds * kills_per_round
    assert len(set(moments)) >= len(moments) // 2
    assert min(moments) < events_in_a_build // 4 and max(moments) > events_in_a_build // 2


def infra_id_of(setup: Setup) -> str:
    store = SQLiteStore(setup.state)
    try:
        return infra_of(store).infra_id
    finally:
        store.close()


def test_killed_builds_on_the_local_cloud_leave_no_orphans_or_duplicates(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config()
    node = local_definition("exec sleep 600", health_check={"ping": False})
    infra = description(tmp_path / "d", node)

    def cloud_ids(infra_id):
        return [ref["instance_id"] for ref in
                setup.cloud().list_nodes(infra_id, [node["resource"]])]

    run_rounds(setup, infra, cloud_ids, seed=20261128)


def test_killed_builds_on_ec2_leave_no_orphans_or_duplicates(tmp_path, moto):
    setup = Setup(tmp_path, auth_data=ec2_auth_data(tmp_path))
    setup.write_config()
    infra = description(tmp_path / "d", ec2_definition(moto))

    def cloud_ids(infra_id):
        return [next(t["Value"] for t in inst["Tags"] if t["Key"] == "occo:instance_id")
                for inst in moto.occo_instances(infra_id)]

    run_rounds(setup, infra, cloud_ids, seed=11)


#: nova builds are slower (each server is scheduled, its port bound, its address pinged):
#: 20 kills in 5 rounds of 4 consecutive killed builds, on a 6-node infrastructure
NOVA_APPS, NOVA_ROUNDS, NOVA_KILLS_PER_ROUND = 4, 5, 4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_killed_builds_on_nova_leave_no_orphans_or_duplicates(tmp_path, openstack_cloud):
    cloud = openstack_cloud
    setup = Setup(tmp_path, auth_data=nova_auth_data(tmp_path, cloud))
    setup.write_config(processing={"poll_interval": 0.5, "create_timeout": 120,
                                   "health_timeout": 60})
    infra = description(tmp_path / "d", {"resource": nova_resource(cloud)}, apps=NOVA_APPS)

    def cloud_ids(infra_id):
        return [untag(server.tags)[TAG_INSTANCE] for server in nova_servers(cloud, infra_id)
                if getattr(server, "task_state", None) != "deleting"]

    run_rounds(setup, infra, cloud_ids, seed=18, rounds=NOVA_ROUNDS,
               kills_per_round=NOVA_KILLS_PER_ROUND, nodes=NOVA_APPS + 2)
