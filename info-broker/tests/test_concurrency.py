"""Several OS processes update one infrastructure at once and no update is lost; a lease
whose holder was killed is taken over once its time-to-live has run out.

Each shared backend (sqlite, redis, postgresql) is tested with real processes (tests/workers.py).
Counts are small and every wait has a deadline, so the tests are bounded in time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REDIS_URL, make_store

from occo.infobroker import InfraRecord, InstanceRecord, SecretBox, SQLiteStore

WORKERS = Path(__file__).with_name("workers.py")
PROCESSES = 4
ROUNDS = 25
DEADLINE = 120.0


@pytest.fixture(params=["sqlite", "redis", "postgresql"])
def shared(request, tmp_path, key_path):
    """(store, state) of a store that several processes can open."""
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        state = f"{REDIS_URL}?prefix={prefix}"
    elif request.param == "postgresql":
        prefix = state = request.getfixturevalue("pg_url")
    else:
        prefix = None
        state = str(tmp_path / "state.sqlite")
    store = make_store(request.param, tmp_path, key_path, prefix)
    yield store, state
    store.close()


def run_workers(state: str, key_path: Path, jobs: list[list[str]]) -> list[dict]:
    """Start one process per job at once; wait (bounded) for all; return their outputs."""
    procs = [subprocess.Popen([sys.executable, str(WORKERS), job[0], state, str(key_path),
                               *job[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for job in jobs]
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            pytest.fail("a worker did not finish in time")
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def setup_infra(store) -> str:
    store.create_infrastructure(InfraRecord(infra_id="race", name="race"))
    store.add_instances([InstanceRecord(instance_id="hot", infra_id="race", node_name="web",
                                        implementation={"type": "web"}, attempts=0)])
    return "race"


def test_compare_and_set_from_several_processes_loses_no_update(shared, key_path):
    store, state = shared
    setup_infra(store)
    outputs = run_workers(state, key_path, [["cas", "hot", str(ROUNDS)]] * PROCESSES)
    rec = store.get_instance("hot")
    assert rec.attempts == PROCESSES * ROUNDS
    assert rec.version == 1 + PROCESSES * ROUNDS
    assert all("conflicts" in out for out in outputs)


def test_updates_without_version_from_several_processes_lose_nothing(shared, key_path):
    store, state = shared
    setup_infra(store)
    run_workers(state, key_path, [["blind", "hot", str(ROUNDS), "addresses", "a"],
                                  ["blind", "hot", str(ROUNDS), "failure", "f"],
                                  ["blind", "hot", str(ROUNDS), "addresses", "b"]])
    rec = store.get_instance("hot")
    assert rec.version == 1 + 3 * ROUNDS          # every update was applied
    assert rec.failure == {"reason": f"f-{ROUNDS - 1}"}
    assert rec.addresses in ([f"a-{ROUNDS - 1}"], [f"b-{ROUNDS - 1}"])


def test_infrastructure_compare_and_set_from_several_processes(shared, key_path):
    store, state = shared
    setup_infra(store)
    tags = "wxyz"[:PROCESSES]
    run_workers(state, key_path, [["status", "race", str(ROUNDS), tag] for tag in tags])
    rec = store.get_infrastructure("race")
    parts = rec.name.split("|")[1:]
    assert rec.version == 1 + PROCESSES * ROUNDS
    for tag in tags:   # each process's updates are all there, in its own order
        assert [p for p in parts if p[0] == tag] == [f"{tag}{n}" for n in range(ROUNDS)]


def test_events_from_several_processes_get_unique_dense_positions(shared, key_path):
    store, state = shared
    setup_infra(store)
    outputs = run_workers(state, key_path,
                          [["events", "race", str(ROUNDS), f"p{n}"] for n in range(PROCESSES)])
    total = PROCESSES * ROUNDS
    positions = sorted(p for out in outputs for p in out["positions"])
    assert positions == list(range(1, total + 1))
    events = store.read_events("race", limit=total + 10)
    assert [e.position for e in events] == list(range(1, total + 1))
    for n in range(PROCESSES):
        mine = [e.details["n"] for e in events if e.details["tag"] == f"p{n}"]
        assert mine == list(range(ROUNDS))


def test_processes_racing_for_one_lease_exactly_one_wins(shared, key_path):
    store, state = shared
    outputs = run_workers(state, key_path, [["race-lease", "maintain:race", f"holder-{n}"]
                                            for n in range(PROCESSES)])
    winners = [n for n, out in enumerate(outputs) if out["acquired"]]
    assert len(winners) == 1
    assert store.lease_holder("maintain:race")[0] == f"holder-{winners[0]}"


@pytest.mark.parametrize("takers", [["take", "take"], ["settle"]])
def test_scaling_requests_raced_for_are_each_taken_exactly_once(shared, key_path, takers):
    """Pushers race takers (or the one maintainer, which peeks and settles)."""
    store, state = shared
    setup_infra(store)
    outputs = run_workers(state, key_path, [["push", "race", str(ROUNDS), "a"],
                                            ["push", "race", str(ROUNDS), "b"],
                                            *[["take", "race", str(ROUNDS), how]
                                              for how in takers]])
    taken = [name for out in outputs[2:] for name in out["taken"]]
    taken += [r.node_name for r in store.take_scaling_requests("race")]
    pushed = [f"{tag}-{n}" for tag in "ab" for n in range(ROUNDS)]
    assert sorted(taken) == sorted(pushed)          # none lost, none taken twice
    for out in outputs[2:]:                          # each taker saw each pusher's order
        for tag in "ab":
            mine = [int(name[2:]) for name in out["taken"] if name[0] == tag]
            assert mine == sorted(mine)


def start_holder(state: str, key_path: Path, name: str, ttl: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(WORKERS), "hold-lease", state, str(key_path),
                             name, "dead-holder", str(ttl)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert json.loads(line) == {"acquired": True}
    return proc


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdin.close()
    proc.stdout.close()


def test_sqlite_lease_of_a_killed_holder_is_taken_over_after_its_ttl(tmp_path, key_path):
    state = tmp_path / "state.sqlite"
    SQLiteStore(state, secrets=SecretBox(key_path)).close()
    proc = start_holder(str(state), key_path, "maintain:x", 30.0)
    kill(proc)
    now = SQLiteStore(state, secrets=SecretBox(key_path))
    # the holder is dead, but its lease is valid for 30 s: nobody may take it yet
    assert now.lease_holder("maintain:x")[0] == "dead-holder"
    assert not now.acquire_lease("maintain:x", "successor", 30.0)
    # 31 s later (a clock moved forward, not a wait) it has expired and is taken over
    later = SQLiteStore(state, secrets=SecretBox(key_path), clock=lambda: time.time() + 31)
    assert later.lease_holder("maintain:x") is None
    assert later.acquire_lease("maintain:x", "successor", 30.0)
    assert now.lease_holder("maintain:x")[0] == "successor"
    now.close()
    later.close()


def test_redis_lease_of_a_killed_holder_is_taken_over_after_its_ttl(redis_prefix, key_path,
                                                                     tmp_path):
    state = f"{REDIS_URL}?prefix={redis_prefix}"
    store = make_store("redis", tmp_path, key_path, redis_prefix)
    proc = start_holder(state, key_path, "maintain:y", 3.0)
    kill(proc)
    holder = store.lease_holder("maintain:y")
    assert holder is not None and holder[0] == "dead-holder"
    assert not store.acquire_lease("maintain:y", "successor", 30.0)
    deadline = time.monotonic() + 20
    while not store.acquire_lease("maintain:y", "successor", 30.0):
        assert time.monotonic() < deadline, "the dead holder's lease never expired"
        time.sleep(0.05)
    assert store.lease_holder("maintain:y")[0] == "successor"
    store.close()


def test_postgresql_lease_of_a_killed_holder_is_taken_over_after_its_ttl(pg_url, key_path):
    from occo.infobroker import PostgreSQLStore
    now = PostgreSQLStore(pg_url, secrets=SecretBox(key_path))
    proc = start_holder(pg_url, key_path, "maintain:z", 30.0)
    kill(proc)
    # the holder is dead (its connections with it), but its lease is valid for 30 s
    assert now.lease_holder("maintain:z")[0] == "dead-holder"
    assert not now.acquire_lease("maintain:z", "successor", 30.0)
    # 31 s later (a clock moved forward, not a wait) it has expired and is taken over
    later = PostgreSQLStore(pg_url, secrets=SecretBox(key_path),
                            clock=lambda: time.time() + 31)
    assert later.lease_holder("maintain:z") is None
    assert later.acquire_lease("maintain:z", "successor", 30.0)
    assert now.lease_holder("maintain:z")[0] == "successor"
    now.close()
    later.close()
