"""The dummy cloud: the contract suite, and its simulation (latency, failures, throttling,
capacity, seeds, a store shared between processes)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import FakeClock

from occo.cloudhandler import CloudHandlerService, Throttled
from occo.cloudhandler.contract import CloudHandlerContract, make_spec
from occo.cloudhandler.dummy import DummyCloudHandler
from occo.util import InputError, NodeSpec, new_id


class TestDummyContract(CloudHandlerContract):
    """The dummy cloud, with create and drop latency, judged by the contract suite."""

    @pytest.fixture
    def fake_clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def service(self, fake_clock, request):
        service = CloudHandlerService(clock=fake_clock)
        request.node.fake_clock = fake_clock
        self._clock = fake_clock
        yield service
        service.close()

    @pytest.fixture
    def resource(self):
        return {"type": "dummy", "name": "contract", "create_latency": 1.0,
                "drop_latency": 0.5}

    @pytest.fixture
    def bad_image_resource(self):
        return {"type": "dummy", "name": "contract", "image": "no-such-image",
                "images": ["debian-12", "ubuntu-24.04"]}

    def advance(self, seconds: float) -> None:
        self._clock.advance(seconds * 10)


def spec(resource: dict, **kw) -> dict:
    return make_spec(resource, infra_id=kw.pop("infra_id", "infra-1"), **kw)


def test_states_follow_the_clock(clock):
    service = CloudHandlerService(clock=clock)
    res = {"type": "dummy", "create_latency": 5, "drop_latency": 2}
    ref = service.create_node(spec(res))
    iid = ref["instance_id"]
    assert service.get_states([ref])[iid]["state"] == "pending"
    clock.advance(4.9)
    assert service.get_states([ref])[iid]["state"] == "pending"
    clock.advance(0.1)
    assert service.get_states([ref])[iid]["state"] == "running"
    service.drop_node(ref)
    assert service.get_states([ref])[iid]["state"] == "stopping"
    assert service.list_nodes("infra-1", [res])[0]["instance_id"] == iid
    clock.advance(2)
    assert service.get_states([ref])[iid]["state"] == "terminated"
    assert service.list_nodes("infra-1", [res]) == []
    assert service.get_addresses([ref]) == {}


def test_seeded_failures_are_deterministic_per_instance_id(clock):
    ids = [f"id-{i:04d}" for i in range(400)]
    res = {"type": "dummy", "fail_rate": 0.25, "seed": 7}

    def failed_ids(name: str) -> set[str]:
        service = CloudHandlerService(clock=clock)
        refs = [service.create_node(spec({**res, "name": name}, instance_id=i)) for i in ids]
        states = service.get_states(refs)
        return {i for i, s in states.items() if s["state"] == "failed"}

    first, second = failed_ids("a"), failed_ids("b")
    assert first == second
    assert 60 < len(first) < 140   # about a quarter of 400
    other_seed = CloudHandlerService(clock=clock)
    refs = [other_seed.create_node(spec({**res, "seed": 8}, instance_id=i)) for i in ids]
    states = other_seed.get_states(refs)
    assert {i for i, s in states.items() if s["state"] == "failed"} != first


def test_a_failed_node_says_why(clock):
    service = CloudHandlerService(clock=clock)
    ref = service.create_node(spec({"type": "dummy", "fail_rate": 1.0}))
    status = service.get_states([ref])[ref["instance_id"]]
    assert status == {"state": "failed", "raw": "failed",
                      "detail": "the simulated cloud failed this node (fail_rate)"}


def test_throttling_is_retryable_creates_nothing_and_is_seeded(clock):
    res = {"type": "dummy", "name": "busy", "throttle_rate": 0.5, "seed": 3}

    def run() -> list[bool]:
        service = CloudHandlerService(clock=clock)
        results = service.create_nodes([spec(res, instance_id=f"t{i}") for i in range(40)])
        for r in results:
            if "error" in r:
                assert r["error"]["type"] == "Throttled" and r["error"]["retryable"] is True
                assert "throttled the request" in r["error"]["text"]
        made = {r["instance_id"] for r in service.list_nodes("infra-1", [res])}
        assert made == {f"t{i}" for i, r in enumerate(results) if "ref" in r}
        return ["error" in r for r in results]

    first = run()
    assert first == run()
    assert 8 < sum(first) < 32


def test_a_throttled_create_succeeds_when_retried(clock):
    service = CloudHandlerService(clock=clock)
    res = {"type": "dummy", "throttle_rate": 0.9, "seed": 1}
    one = spec(res)
    for attempt in range(200):  # noqa: B007 (read after the loop); bounded: with p = 0.9 this ends long before
        try:
            ref = service.create_node(one)
            break
        except Throttled:
            continue
    else:
        pytest.fail("200 throttled attempts in a row")
    assert ref["instance_id"] == one["instance_id"] and attempt >= 0


def test_capacity_refuses_for_good_and_frees_after_drop(clock):
    service = CloudHandlerService(clock=clock)
    res = {"type": "dummy", "name": "small", "capacity": 2, "drop_latency": 3}
    refs = [service.create_node(spec(res)) for _ in range(2)]
    third = spec(res, node="third")
    [full] = service.create_nodes([third])
    assert full["error"]["type"] == "CapacityExceeded" and full["error"]["retryable"] is False
    assert full["error"]["text"] == (f"node 'third' ({third['instance_id']}): the dummy cloud "
                                     "'small' is full: capacity 2 nodes")
    service.drop_node(refs[0])
    with pytest.raises(Exception, match="is full"):   # still stopping
        service.create_node(spec(res))
    clock.advance(3)
    assert service.create_node(spec(res))["type"] == "dummy"


def test_bad_rates_are_input_errors_naming_the_node(clock):
    service = CloudHandlerService(clock=clock)
    with pytest.raises(InputError) as info:
        service.create_node(spec({"type": "dummy", "fail_rate": 1.5}, node="api"))
    assert str(info.value) == ("node 'api': resource.fail_rate must be a chance between 0 "
                               "and 1, got 1.5")
    with pytest.raises(InputError) as info:
        service.create_node(spec({"type": "dummy", "capacity": "many", "colour": 1}, node="db"))
    messages = sorted(str(e) for e in info.value.errors)
    assert messages == [
        "node 'db': resource.capacity: must be an integer >= 0, got 'many'",
        "node 'db': resource.colour: unknown key 'colour' in dummy resource; valid keys: "
        "type, name, create_latency, drop_latency, fail_rate, throttle_rate, capacity, seed, "
        "image, images, tags"]
    assert service.list_nodes("infra-1", [{"type": "dummy"}]) == []


def test_dummy_clouds_are_separate_per_name_and_per_service(clock):
    service = CloudHandlerService(clock=clock)
    a = service.create_node(spec({"type": "dummy", "name": "a"}))
    assert service.list_nodes("infra-1", [{"type": "dummy", "name": "b"}]) == []
    assert [r["instance_id"] for r in service.list_nodes("infra-1", [{"type": "dummy",
                                                                      "name": "a"}])] == \
        [a["instance_id"]]
    assert CloudHandlerService(clock=clock).list_nodes("infra-1", [{"type": "dummy",
                                                                    "name": "a"}]) == []
    assert service.endpoint_key({"type": "dummy", "name": "a"}) == "dummy:a"
    assert service.endpoint_key({"type": "dummy"}) == "dummy:default"


def test_ten_thousand_nodes_are_records_not_threads(clock):
    import threading
    service = CloudHandlerService(clock=clock)
    res = {"type": "dummy", "create_latency": 1}
    before = threading.active_count()
    results = service.create_nodes([spec(res, node=f"n{i % 10}") for i in range(10_000)])
    refs = [r["ref"] for r in results]
    assert threading.active_count() == before
    clock.advance(1)
    states = service.get_states(refs)
    assert len(states) == 10_000 and {s["state"] for s in states.values()} == {"running"}
    addresses = service.get_addresses(refs)
    assert len({a["addresses"][0] for a in addresses.values()}) == 10_000
    assert all(a["checkable"] is False for a in addresses.values())
    assert service.drop_nodes(refs) == [{}] * 10_000


def test_the_handler_can_be_used_directly(clock):
    handler = DummyCloudHandler({"type": "dummy"}, clock=clock)
    node = NodeSpec(instance_id=new_id(), infra_id="i", node_name="n", node_type="t",
                    resource={"type": "dummy", "tags": {"cost": "low"}})
    ref = handler.create_node(node)
    assert handler.tags_of(node.instance_id) == {"cost": "low", "occo:infra_id": "i",
                                                 "occo:node": "n",
                                                 "occo:instance_id": node.instance_id}
    assert handler.get_states([ref])[node.instance_id].state == "running"
    handler.drop_node(ref)
    handler.drop_node({"instance_id": "never-was"})


SHARED_WORKER = textwrap.dedent("""
    import json, sys
    from occo.cloudhandler import CloudHandlerService
    service = CloudHandlerService({"dummy": {"store": sys.argv[1]}})
    spec = json.loads(sys.argv[2])
    print(json.dumps(service.create_node(spec)))
""")


def test_a_shared_store_is_one_cloud_for_several_processes(tmp_path):
    store = tmp_path / "cloud.sqlite"
    res = {"type": "dummy", "name": "shared", "create_latency": 0}
    one = spec(res, infra_id="shared-infra")
    refs = []
    for _ in range(2):   # two worker processes create the same instance: one node
        out = subprocess.run([sys.executable, "-c", SHARED_WORKER, str(store), json.dumps(one)],
                             capture_output=True, text=True, check=True, timeout=60)
        refs.append(json.loads(out.stdout))
    assert refs[0] == refs[1]
    here = CloudHandlerService({"dummy": {"store": str(store)}})
    listed = here.list_nodes("shared-infra", [res])
    assert [r["instance_id"] for r in listed] == [one["instance_id"]]
    assert here.get_states(refs)[one["instance_id"]]["state"] == "running"
    assert here.drop_nodes(refs) == [{}, {}]   # the same node twice: both succeed
    assert here.list_nodes("shared-infra", [res]) == []
    other = spec({**res, "capacity": 1}, infra_id="shared-infra")
    here.create_node(other)
    with pytest.raises(Exception, match="is full"):
        here.create_node(spec({**res, "capacity": 1}, infra_id="shared-infra"))
    here.close()
