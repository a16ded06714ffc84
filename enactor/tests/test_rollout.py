"""The rolling replacement of outdated instances, pass by pass (decide(rollout=True)).

A small simulator applies each pass's instructions to the records the way a build does
(drops go, creates are recorded and become ready after ``ready_after`` passes) and checks
after every pass that no node is below its wanted count by more than ``max_unavailable``
ready instances, nor above it by more than ``max_surge`` live ones."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from occo.compiler import StaticDescription
from occo.enactor import MaintenanceConfig, decide
from occo.enactor.decide import ROLLOUT_CREATE, ROLLOUT_DROP
from occo.infobroker import InstanceRecord, InstanceState, Intent

BASE = {"resource": {"type": "dummy", "image": "a"}, "contextualisation": None,
        "config_management": {"type": "none"}, "health_check": {"ping": True}}


def impl(image="a", command="v1"):
    return {**BASE, "resource": {"type": "dummy", "image": image},
            "contextualisation": {"type": "basic", "attributes": {
                "db": "{{ getip('db') }}", "command": command}}}


def desc(*, db=(3, "a"), web=(3, "v1"), db_update=None, web_update=None, web_max=None):
    def node(name, count, implementation, update):
        out = {"name": name, "type": f"{name}_t",
               "scaling": {"min": count, "max": web_max if name == "web" and web_max
                           else count},
               "filter": {}, "variables": {}, "implementations": [implementation]}
        if update:
            out["update"] = {"max_surge": update[0], "max_unavailable": update[1]}
        return out
    return StaticDescription.from_dict({
        "format": 1, "infra_name": "t", "user_id": None, "variables": {},
        "nodes": [node("db", db[0], impl(image=db[1]), db_update),
                  node("web", web[0], impl(command=web[1]), web_update)],
        "edges": [{"dependent": "web", "dependency": "db", "mappings": []}]})


class Cloud:
    """The records a build leaves, pass after pass."""

    def __init__(self, description: StaticDescription, *, ready_after: int = 1,
                 seed: int = 0) -> None:
        self.records: dict[str, InstanceRecord] = {}
        self.ready_at: dict[str, int] = {}
        self.ids = (f"i{n}" for n in itertools.count(1))
        self.ready_after = ready_after
        self.clock = itertools.count(1)
        self.passes = 0
        self.random = random.Random(seed)
        self.events: list[dict] = []
        while self.step(description, rollout=False).instructions:
            pass

    def lookup_db(self) -> str | None:
        ready = sorted((r for r in self.records.values() if r.node_name == "db"
                        and r.state == InstanceState.READY), key=lambda r: r.created_at)
        return ready[0].addresses[0] if ready else None

    def step(self, description: StaticDescription, *, rollout: bool = True):
        self.passes += 1
        counter = iter(range(1, 10_000))
        d = decide(description, list(self.records.values()), infra_id="i", targets={},
                   now=1000.0, config=MaintenanceConfig(), rollout=rollout,
                   choose=lambda node: (0, node.implementations[0]),
                   new_instance_id=lambda: next(self.ids) + f"-{next(counter)}")
        self.events += d.events
        for drop in d.drops:
            del self.records[drop.instance_id]
        for create in d.creates:
            iid = create.instance_id
            lookups = {"getip('db')": self.lookup_db()} if create.node_name == "web" else {}
            built = {"digest": "sha256:x", "variables": {}, "attributes": {},
                     "lookups": lookups}
            self.records[iid] = InstanceRecord(
                instance_id=iid, infra_id="i", node_name=create.node_name,
                implementation={**create.implementation, "built_from": built},
                resource={"instance_id": iid}, state=InstanceState.PENDING,
                intent=Intent.CREATED, addresses=[f"10.0.{next(self.clock)}.1"],
                created_at=float(next(self.clock)))
            self.ready_at[iid] = self.passes + self.ready_after
        # what serves while the pass's creates come up: before they are ready
        self.after_drops = {n: sum(r.node_name == n and r.state == InstanceState.READY
                                   for r in self.records.values()) for n in ("db", "web")}
        # the dependencies come up first; a dependent renders once they are ready
        for node in ("db", "web"):
            for iid, at in self.ready_at.items():
                rec = self.records.get(iid)
                if rec is None or rec.node_name != node or self.passes + 1 < at:
                    continue
                built = rec.implementation["built_from"]
                if node == "web" and built["lookups"]["getip('db')"] is None:
                    built["lookups"]["getip('db')"] = self.lookup_db()
                self.records[iid] = replace(rec, state=InstanceState.READY)
        return d

    def live(self, node: str) -> int:
        return sum(r.node_name == node for r in self.records.values())


def roll(cloud: Cloud, description: StaticDescription, limits: dict[str, tuple[int, int]],
         *, max_passes: int = 60) -> list:
    """Passes until nothing is outdated, checking the limits after each; the decisions."""
    decisions = []
    for _ in range(max_passes):
        d = cloud.step(description)
        decisions.append(d)
        for node, (target, surge, unavailable) in limits.items():
            assert cloud.after_drops[node] >= target - unavailable, (node, cloud.passes)
            assert cloud.live(node) <= target + surge, (node, cloud.passes)
        if not d.instructions and not d.outdated:
            return decisions
    raise AssertionError(f"no end after {max_passes} passes: {decisions[-1]}")


def images(cloud: Cloud, node: str) -> list[str]:
    return sorted(r.implementation["resource"]["image"] if node == "db" else
                  r.implementation["contextualisation"]["attributes"]["command"]
                  for r in cloud.records.values() if r.node_name == node)


@pytest.mark.parametrize("surge, unavailable", [(1, 0), (2, 0), (0, 1), (3, 2), (10, 0),
                                                (0, 5)])
@pytest.mark.parametrize("ready_after", [1, 2])
def test_a_changed_command_is_replaced_within_the_limits(surge, unavailable, ready_after):
    old = desc(web=(4, "v1"))
    cloud = Cloud(old, ready_after=ready_after)
    before = {r.instance_id for r in cloud.records.values() if r.node_name == "web"}
    new = desc(web=(4, "v2"), web_update=(surge, unavailable))
    roll(cloud, new, {"web": (4, surge, unavailable), "db": (3, 1, 0)})
    assert images(cloud, "web") == ["v2"] * 4
    assert not before & set(cloud.records)           # every old web instance went
    assert images(cloud, "db") == ["a"] * 3          # the db was not touched
    assert not [e for e in cloud.events if e["type"] == "node.replacing"
                and e["node"] == "db"]


def test_a_replaced_dependency_forces_its_dependents_after_it_in_order():
    cloud = Cloud(desc())
    decisions = roll(cloud, desc(db=(3, "b")), {"db": (3, 1, 0), "web": (3, 1, 0)})
    assert images(cloud, "db") == ["b"] * 3
    # the web instances read the old db's address: each was replaced, reading a new one
    assert images(cloud, "web") == ["v1"] * 3
    new_db = {r.addresses[0] for r in cloud.records.values() if r.node_name == "db"}
    assert {r.implementation["built_from"]["lookups"]["getip('db')"]
            for r in cloud.records.values() if r.node_name == "web"} <= new_db
    # no web instance is created or dropped by the rollout while db still has old ones
    first_web = next(i for i, d in enumerate(decisions)
                     if any(c.node_name == "web" for c in d.instructions))
    for d in decisions[:first_web]:
        assert any(i.node_name == "db" for i in d.instructions)
    assert all(i.node_name == "web" for d in decisions[first_web:] for i in d.instructions)


def test_the_reasons_say_rollout():
    cloud = Cloud(desc(web=(2, "v1")))
    first = cloud.step(desc(web=(2, "v2")))
    assert [(c.node_name, c.reason) for c in first.creates] == [("web", ROLLOUT_CREATE)]
    assert first.drops == []                        # nothing new is ready yet
    second = cloud.step(desc(web=(2, "v2")))
    assert [(d.node_name, d.reason) for d in second.drops] == [("web", ROLLOUT_DROP)]
    [event] = [e for e in second.events if e["type"] == "node.replacing"]
    assert event["node"] == "web" and event["max_surge"] == 1 and event["outdated"] == 1


def test_without_rollout_outdated_instances_are_only_reported():
    cloud = Cloud(desc(web=(2, "v1")))
    d = cloud.step(desc(web=(2, "v2")), rollout=False)
    assert d.instructions == [] and len(d.outdated["web"]) == 2


def test_scaling_that_changes_replaces_nothing():
    cloud = Cloud(desc(web=(2, "v1")))
    before = set(cloud.records)
    d = cloud.step(desc(web=(4, "v1"), web_max=6))
    assert [c.reason for c in d.creates] == ["2 of 4 wanted"] * 2 and d.drops == []
    assert before <= set(cloud.records) and not d.outdated


def test_scaling_down_while_changed_drops_outdated_first_and_replaces_the_rest():
    cloud = Cloud(desc(web=(4, "v1")))
    first = cloud.step(desc(web=(2, "v2")))
    assert [d.reason for d in first.drops] == ["scale down to 2"] * 2
    roll(cloud, desc(web=(2, "v2")), {"web": (2, 1, 0)})
    assert images(cloud, "web") == ["v2"] * 2


def test_a_new_instance_counts_once_it_has_settled():
    """update.min_ready_seconds: an old instance goes only once a new one has been ready
    that long (a balancer that polls has seen it); until then the decision says how long
    to wait, and nothing is dropped."""
    old = desc(db=(1, "a"), web=(1, "v1"))
    cloud = Cloud(old)
    new = desc(db=(1, "a"), web=(1, "v2"))
    as_dict = new.to_dict()
    [web] = [n for n in as_dict["nodes"] if n["name"] == "web"]
    web["update"] = {"max_surge": 1, "max_unavailable": 0, "min_ready_seconds": 5}
    new = StaticDescription.from_dict(as_dict)
    first = cloud.step(new)
    assert len(first.creates) == 1 and not first.drops
    [fresh] = [r for r in cloud.records.values() if r.instance_id == first.creates[0].instance_id]

    def decided(ready_for: float):
        records = [r if r.instance_id != fresh.instance_id else
                   replace(r, state=InstanceState.READY, ready_at=1000.0 - ready_for)
                   for r in cloud.records.values()]
        return decide(new, records, infra_id="i", targets={}, now=1000.0,
                      config=MaintenanceConfig(), rollout=True,
                      choose=lambda node: (0, node.implementations[0]))
    waiting = decided(1.5)
    assert not waiting.drops and not waiting.creates
    assert waiting.settling == pytest.approx(3.5)
    [event] = [e for e in waiting.events if e["type"] == "node.replacing"]
    assert event["settling"] == pytest.approx(3.5)
    settled = decided(5.0)
    assert [d.node_name for d in settled.drops] == ["web"] and settled.settling == 0
