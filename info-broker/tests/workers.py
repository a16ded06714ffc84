"""Worker processes for the concurrency and lease tests (run as separate OS processes).

Usage: python workers.py COMMAND STATE KEY_PATH ARGS...  where STATE is what open_store
takes. Each prints one line of JSON when it is done (or, for ``hold-lease``, when it holds
the lease, and then waits to be killed).
"""

from __future__ import annotations

import json
import sys

from occo.infobroker import Event, ScalingRequest, VersionConflict, open_store


def cas_increments(store, instance_id: str, count: int) -> dict:
    """Raise the instance's ``attempts`` by one, ``count`` times, by compare-and-set."""
    conflicts = 0
    for _ in range(count):
        while True:
            rec = store.get_instance(instance_id)
            try:
                store.update_instance(instance_id, expected_version=rec.version,
                                      attempts=rec.attempts + 1)
                break
            except VersionConflict:
                conflicts += 1
    return {"conflicts": conflicts}


def blind_updates(store, instance_id: str, count: int, field: str, tag: str) -> dict:
    """Change one field ``count`` times without a version (read-modify-write in the store)."""
    for n in range(count):
        value = [f"{tag}-{n}"] if field == "addresses" else {"reason": f"{tag}-{n}"}
        store.update_instances({instance_id: {field: value}})
    return {}


def infra_status(store, infra_id: str, count: int, tag: str) -> dict:
    """Append ``tag`` to the infrastructure's name ``count`` times, by compare-and-set
    (the name is free text; the status is one of InfraStatus)."""
    for n in range(count):
        while True:
            rec = store.get_infrastructure(infra_id)
            try:
                store.update_infrastructure(infra_id, expected_version=rec.version,
                                            name=f"{rec.name}|{tag}{n}")
                break
            except VersionConflict:
                pass
    return {}


def events(store, infra_id: str, count: int, tag: str) -> dict:
    positions = []
    for n in range(0, count, 5):
        positions += store.append_events([Event(type="test", infra_id=infra_id,
                                                details={"tag": tag, "n": n + k})
                                          for k in range(min(5, count - n))])
    return {"positions": positions}


def race_lease(store, name: str, holder: str) -> dict:
    return {"acquired": store.acquire_lease(name, holder, 60.0)}


def push_requests(store, infra_id: str, count: int, tag: str) -> dict:
    for n in range(count):
        store.push_scaling_request(ScalingRequest(infra_id=infra_id, node_name=f"{tag}-{n}",
                                                  kind="create"))
    return {}


def take_requests(store, infra_id: str, rounds: int, how: str) -> dict:
    """Take the queue ``rounds`` times (``how``: ``take``, or ``settle``: peek, then
    settle what was peeked, as the one maintainer holding the lease does); returns what
    it took."""
    taken: list[str] = []
    for _ in range(rounds):
        if how == "take":
            taken += [r.node_name for r in store.take_scaling_requests(infra_id)]
        else:
            seen = store.peek_scaling_requests(infra_id)
            store.settle_scaling_requests(infra_id, len(seen), {})
            taken += [r.node_name for r in seen]
    return {"taken": taken}


def hold_lease(store, name: str, holder: str, ttl: float) -> None:
    ok = store.acquire_lease(name, holder, ttl)
    print(json.dumps({"acquired": ok}), flush=True)
    sys.stdin.read()   # wait until killed


def main() -> None:
    command, state, key_path, *args = sys.argv[1:]
    store = open_store(state, key_path=key_path)
    if command == "cas":
        out = cas_increments(store, args[0], int(args[1]))
    elif command == "blind":
        out = blind_updates(store, args[0], int(args[1]), args[2], args[3])
    elif command == "status":
        out = infra_status(store, args[0], int(args[1]), args[2])
    elif command == "events":
        out = events(store, args[0], int(args[1]), args[2])
    elif command == "race-lease":
        out = race_lease(store, args[0], args[1])
    elif command == "push":
        out = push_requests(store, args[0], int(args[1]), args[2])
    elif command == "take":
        out = take_requests(store, args[0], int(args[1]), args[2])
    elif command == "hold-lease":
        hold_lease(store, args[0], args[1], float(args[2]))
        return
    else:
        raise SystemExit(f"unknown command {command}")
    store.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
