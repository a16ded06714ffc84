"""A rollout of 10 instances killed with SIGKILL at 10 moments spread over it, then built
again: the rebuild carries it on from the store, and ends with exactly the wanted
instances, all of the new definition, each once in the cloud, nothing the store does not
know, and the node never had fewer ready instances than it wants (issue 24)."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter

import pytest
from e2e import Setup, local_definition, write_description

from occo.infobroker import SQLiteStore
from occo.util.testing import wait_until

# a minute of builds and kills: the full run only
pytestmark = pytest.mark.slow

ROUNDS = 10
APPS = 10


def description(directory, app_command):
    plain = local_definition("exec sleep 600", health_check={"ping": False})
    app = local_definition(app_command, health_check={"ping": False})
    return write_description(directory, "roll", {
        "db": {"type": "db_t"},
        "app": {"type": "app_t", "scaling": {"min": APPS, "max": APPS}}},
        [("app", "db")], {"db_t": [plain], "app_t": [app]})


def event_count(setup: Setup) -> int:
    store = SQLiteStore(setup.state)
    try:
        [record] = store.list_infrastructures()
        return len(store.read_events(record.infra_id, after=0, limit=100_000))
    finally:
        store.close()


def kill_after(setup: Setup, infra, events: int, rng: random.Random) -> None:
    """Start `occo build infra` and SIGKILL it once the event log has ``events``."""
    proc = setup.spawn("build", str(infra))
    try:
        wait_until(lambda: proc.poll() is not None or event_count(setup) >= events,
                 timeout=120, interval=0.005, what=f"{events} events")
        threading.Event().wait(rng.uniform(0, 0.03))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


class ReadyFloor:
    """The fewest ready app instances the store held while it watched (every 10 ms)."""

    def __init__(self, setup: Setup) -> None:
        self.store = SQLiteStore(setup.state)
        self.lowest: int | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self) -> None:
        while not self.stop.wait(0.01):
            [record] = self.store.list_infrastructures()
            ready = sum(str(i.state) == "ready"
                        for i in self.store.list_instances(record.infra_id, "app"))
            self.lowest = ready if self.lowest is None else min(self.lowest, ready)

    def __enter__(self) -> ReadyFloor:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.store.close()


def test_a_killed_rollout_is_carried_on_by_the_next_build(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config()
    old = description(tmp_path / "old", "exec sleep 600")
    new = description(tmp_path / "new", "exec sleep 601")
    rng = random.Random(20261204)
    # one undisturbed rollout: how many events it writes
    assert setup.cli("build", str(old)).returncode == 0
    start = event_count(setup)
    assert setup.cli("build", str(new)).returncode == 0
    length = event_count(setup) - start
    assert length >= 10   # started, creates, readies, drops, finished: moments to kill
    with setup.occo() as occo:
        [record] = occo.store.list_infrastructures()
        assert occo.destroy(record.infra_id)["status"] == "destroyed"
    moments = []
    for _ in range(ROUNDS):
        assert setup.cli("build", str(old)).returncode == 0
        at = rng.randint(1, length - 1)
        moments.append(at)
        with ReadyFloor(setup) as floor:   # max_unavailable 0: never below APPS
            kill_after(setup, new, event_count(setup) + at, rng)
            again = setup.cli("build", str(new), "--json")
            assert again.returncode == 0, again.stdout + again.stderr
        assert floor.lowest == APPS
        with setup.occo() as occo:
            [record] = occo.store.list_infrastructures()
            instances = occo.store.list_instances(record.infra_id)
            status = occo.status(record.infra_id)
            resources = [impl["resource"] for node in record.description["nodes"]
                         for impl in node["implementations"]]
            resources += [impl["resource"] for node in record.description["previous"]["nodes"]
                          for impl in node["implementations"]]
            in_cloud = Counter(ref["instance_id"] for ref in
                               setup.cloud().list_nodes(record.infra_id, resources))
            assert Counter(i.node_name for i in instances) == {"db": 1, "app": APPS}
            assert [(i.node_name, str(i.state)) for i in instances
                    if str(i.state) != "ready"] == []
            assert not any(inst["outdated"] for node in status["nodes"]
                           for inst in node["instances"])
            assert in_cloud == Counter({i.instance_id: 1 for i in instances})
            assert occo.destroy(record.infra_id)["status"] == "destroyed"
    assert len(set(moments)) >= ROUNDS // 2
