"""Every rule of a maintenance decision, on compiled descriptions and instance records."""

from __future__ import annotations

from dataclasses import replace

import pytest

from occo.compiler import StaticDescription
from occo.enactor import MaintenanceConfig, decide
from occo.infobroker import InstanceRecord, InstanceState, Intent, ScalingRequest

IMPL = {"resource": {"type": "dummy"}, "contextualisation": None,
        "config_management": {"type": "none"}, "health_check": {"ping": True, "timeout": 60}}


def desc(nodes: dict[str, tuple[int, int]], edges=()) -> StaticDescription:
    return StaticDescription.from_dict({
        "format": 1, "infra_name": "t", "user_id": None, "variables": {},
        "nodes": [{"name": n, "type": f"{n}_t", "scaling": {"min": lo, "max": hi},
                   "filter": {}, "variables": {}, "implementations": [IMPL]}
                  for n, (lo, hi) in nodes.items()],
        "edges": [{"dependent": a, "dependency": b, "mappings": []} for a, b in edges]})


def rec(iid, node, *, state=InstanceState.READY, created=0.0, addresses=(), failure=None):
    return InstanceRecord(instance_id=iid, infra_id="i", node_name=node, implementation=IMPL,
                          resource={"instance_id": iid}, state=state, intent=Intent.CREATED,
                          addresses=list(addresses), created_at=created, failure=failure)


def run(description, instances=(), *, targets=None, requests=(), timers=None, now=1000.0,
        config=None):
    counter = iter(range(1, 10_000))
    return decide(description, list(instances), infra_id="i", targets=targets or {},
                  requests=list(requests), timers=timers or {}, now=now,
                  config=config or MaintenanceConfig(),
                  choose=lambda node: (0, node.implementations[0]),
                  new_instance_id=lambda: f"new-{next(counter)}")


def req(node, kind, count=1, **kw):
    return ScalingRequest(infra_id="i", node_name=node, kind=kind, count=count, **kw)


def test_a_new_infrastructure_gets_min_instances_with_its_waits():
    d = run(desc({"db": (1, 1), "web": (2, 5)}, [("web", "db")]))
    creates = d.creates
    assert [c.node_name for c in creates] == ["db", "web", "web"]
    assert creates[0].waits_for == () and creates[1].waits_for == ("db",)
    assert d.targets == {"db": 1, "web": 2} and d.drops == []


def test_nothing_to_do_when_actual_matches_desired():
    d = run(desc({"web": (2, 5)}), [rec("a", "web"), rec("b", "web")])
    assert d.instructions == []


def test_scale_up_and_clamp_with_a_warning():
    d = run(desc({"web": (1, 3)}), [rec("a", "web")], requests=[req("web", "create", 5)])
    assert d.targets == {"web": 3} and len(d.creates) == 2
    clamp = [e for e in d.events if e["type"] == "scaling.clamped"][0]
    assert clamp["requested"] == 6 and clamp["target"] == 3
    assert "clamped to 3 (min 1, max 3)" in clamp["message"]


def test_scale_down_removes_the_youngest_first():
    recs = [rec("old", "web", created=1), rec("mid", "web", created=2),
            rec("young", "web", created=3)]
    d = run(desc({"web": (1, 5)}), recs, targets={"web": 3}, requests=[req("web", "destroy")])
    assert [x.instance_id for x in d.drops] == ["young"]
    assert d.targets == {"web": 2}


def test_scale_down_by_instance_id_or_address():
    recs = [rec("a", "web", created=1, addresses=["10.0.0.1"]), rec("b", "web", created=2),
            rec("c", "web", created=3)]
    d = run(desc({"web": (1, 5)}), recs, targets={"web": 3},
            requests=[req("web", "destroy", instance_id="b"),
                      req("web", "destroy", address="10.0.0.1")])
    assert sorted(x.instance_id for x in d.drops) == ["a", "b"]
    assert d.targets == {"web": 1} and d.creates == []


def test_unknown_instance_in_a_request_is_reported_not_guessed():
    d = run(desc({"web": (1, 5)}), [rec("a", "web")],
            requests=[req("web", "destroy", instance_id="nope")])
    assert d.drops == []
    assert any(e["type"] == "scaling.unknown_instance" for e in d.events)


def test_scale_to_sets_the_target():
    d = run(desc({"web": (0, 10)}), [rec("a", "web")], requests=[req("web", "set", 4)])
    assert d.targets == {"web": 4} and len(d.creates) == 3


def test_failed_instance_is_dropped_and_replaced():
    recs = [rec("a", "web"), rec("b", "web", state=InstanceState.FAILED,
                                 failure={"reason": "process exited with 1"})]
    d = run(desc({"web": (2, 2)}), recs)
    assert [x.instance_id for x in d.drops] == ["b"]
    assert "process exited with 1" in d.drops[0].reason
    assert len(d.creates) == 1
    assert any(e["type"] == "healing" for e in d.events)


def test_unhealthy_is_replaced_only_after_its_timeout():
    recs = [rec("a", "web"), rec("b", "web", state=InstanceState.UNHEALTHY)]
    early = run(desc({"web": (2, 2)}), recs, timers={"b": 970.0}, now=1000.0)
    assert early.instructions == []
    late = run(desc({"web": (2, 2)}), recs, timers={"b": 900.0}, now=1000.0)
    assert [x.instance_id for x in late.drops] == ["b"] and len(late.creates) == 1
    assert "unhealthy for more than 60 s" in late.drops[0].reason


def test_the_brake_stops_a_replacement_storm():
    recs = [rec(f"w{i}", "web", state=InstanceState.FAILED) for i in range(3)] + \
           [rec("ok", "web")]
    d = run(desc({"web": (4, 4)}), recs, config=MaintenanceConfig(brake_fraction=0.5))
    assert d.instructions == []
    brake = [e for e in d.events if e["type"] == "healing.braked"][0]
    assert brake["failed"] == 3 and brake["instances"] == 4
    assert "not replacing any" in brake["message"]


def test_dependents_do_not_wait_for_a_node_scaled_to_zero():
    d = run(desc({"cache": (0, 2), "web": (1, 1)}, [("web", "cache")]))
    assert [c.node_name for c in d.creates] == ["web"]
    assert d.creates[0].waits_for == ()


def test_instances_being_dropped_do_not_count():
    dropping = InstanceRecord(instance_id="x", infra_id="i", node_name="web",
                              implementation=IMPL, intent=Intent.DROPPING)
    d = run(desc({"web": (1, 1)}), [dropping])
    assert len(d.creates) == 1


@pytest.mark.parametrize("kind", ["create", "destroy", "set"])
def test_requests_for_unknown_nodes_are_reported(kind):
    d = run(desc({"web": (1, 1)}), [rec("a", "web")], requests=[req("nope", kind)])
    assert any(e["type"] == "scaling.unknown_node" and e["node"] == "nope" for e in d.events)


def test_instances_of_a_node_no_longer_described_are_dropped_and_said():
    failed = rec("c", "cache", state=InstanceState.FAILED, failure={"reason": "x"})
    d = run(desc({"db": (1, 1)}),
            [rec("a", "db"), rec("b1", "batch"), rec("b2", "batch"), failed])
    drops = {(x.node_name, x.instance_id, x.reason) for x in d.drops}
    assert drops == {("batch", "b1", "no longer in the description"),
                     ("batch", "b2", "no longer in the description"),
                     ("cache", "c", "no longer in the description")}
    told = {e["node"]: e["instances"] for e in d.events if e["type"] == "node.removed"}
    assert told == {"batch": 2, "cache": 1}
    assert d.creates == [] and "batch" not in d.targets


def test_an_instance_being_dropped_of_a_removed_node_is_not_dropped_twice():
    going = replace(rec("b1", "batch"), intent=Intent.DROPPING)
    d = run(desc({"db": (1, 1)}), [rec("a", "db"), going])
    assert d.drops == [] and not [e for e in d.events if e["type"] == "node.removed"]
