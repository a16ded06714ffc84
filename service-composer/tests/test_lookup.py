"""The in-memory NodeLookup."""

from __future__ import annotations

import threading

from occo.servicecomposer import MemoryLookup, NodeLookup, instance_record


def test_it_is_a_node_lookup_and_keeps_age_order():
    lk = MemoryLookup()
    assert isinstance(lk, NodeLookup)
    lk.add("i", "web", "w1", addresses=["127.0.0.2"])
    lk.add("i", "web", "w2", addresses=["127.0.0.3"], ready=False)
    lk.add("i", "web", "w3", addresses=["127.0.0.4"], private_addresses=["10.0.0.4"])
    assert [r["instance_id"] for r in lk.instances("i", "web")] == ["w1", "w2", "w3"]
    assert [r["instance_id"] for r in lk.ready_instances("i", "web")] == ["w1", "w3"]
    assert lk.ready_instances("i", "web")[1] == instance_record("w3", ["127.0.0.4"],
                                                                ["10.0.0.4"])
    assert lk.instances("other", "web") == [] and lk.instances("i", "db") == []


def test_changes_keep_the_place_and_results_are_copies():
    lk = MemoryLookup()
    lk.add("i", "web", "w1", addresses=["127.0.0.2"], ready=False)
    lk.add("i", "web", "w2", addresses=["127.0.0.3"])
    lk.set_ready("i", "web", "w1", True)
    lk.add("i", "web", "w2", addresses=["127.0.0.9"])
    assert [r["addresses"] for r in lk.ready_instances("i", "web")] == [["127.0.0.2"],
                                                                        ["127.0.0.9"]]
    lk.ready_instances("i", "web")[0]["instance_id"] = "changed"
    assert lk.instances("i", "web")[0]["instance_id"] == "w1"
    lk.remove("i", "web", "w1")
    lk.remove("i", "web", "unknown")
    assert [r["instance_id"] for r in lk.instances("i", "web")] == ["w2"]
    try:
        lk.set_ready("i", "web", "w1", True)
    except KeyError as exc:
        assert exc.args == ("w1",)
    else:
        raise AssertionError("set_ready of a removed instance must fail")


def test_concurrent_writers_lose_nothing():
    lk = MemoryLookup()

    def writer(n):
        for i in range(200):
            lk.add("i", "web", f"w{n}-{i}", addresses=[f"127.1.{n}.{i}"])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(lk.instances("i", "web")) == 800
