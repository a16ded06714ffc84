"""Faults: a flaky, throttling cloud; nodes whose health check fails; the healing brake."""

from __future__ import annotations

from collections import Counter

import pytest
from e2e import Setup, local_definition, write_description

from occo.util.testing import wait_until

SERVE = "exec \"$OCCO_PYTHON\" -m http.server 8080 --bind \"$OCCO_NODE_IP\""


def test_200_nodes_converge_on_a_cloud_with_20_percent_failures_and_throttling(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config(processing={"max_attempts": 10, "call_retries": 12, "max_parallel": 64},
                       clouds={"dummy": {"store": "memory"}})
    flaky = {"resource": {"type": "dummy", "create_latency": 0.05, "fail_rate": 0.2,
                          "throttle_rate": 0.2, "seed": 7}}
    infra = write_description(tmp_path / "d", "flaky", {
        "db": {"type": "t"}, "web": {"type": "t", "scaling": {"min": 199, "max": 199}}},
        [("web", "db")], {"t": [flaky]})
    with setup.occo() as occo:
        result = occo.build(infra)
        assert result["status"] == "ready", result["failures"]
        infra_id = result["infra_id"]
        instances = occo.store.list_instances(infra_id)
        assert len(instances) == 200 and all(str(i.state) == "ready" for i in instances)
        events = Counter(e["type"] for e in occo.events(infra_id, limit=100_000))
        # failures happened, were replaced, and stayed within the budget
        assert events["node.failed"] == result["replaced"] > 0
        assert result["replaced"] <= 200 * (10 - 1)
        assert events["node.dropped"] == events["node.failed"]
        # nothing leaked: the cloud holds exactly the 200 instances the store knows
        live = {ref["instance_id"] for ref in occo.system.cloud_service.list_nodes(
            infra_id, [flaky["resource"]])}
        assert live == {i.instance_id for i in instances}


def web(directory, count=3):
    node = local_definition(SERVE, resource={"files": {"index.html": "ok\n"}},
                            health_check={"ping": False,
                                          "urls": ["http://{{ ip }}:8080/index.html"],
                                          "timeout": 1})
    return write_description(directory, "web", {
        "web": {"type": "web_t", "scaling": {"min": count, "max": count}}}, [],
        {"web_t": [node]})


def break_health(setup: Setup, infra_id: str, instance_id: str) -> None:
    """The node keeps running, but its health URL now answers 404."""
    (setup.local_root / infra_id / instance_id / "work" / "index.html").unlink()


@pytest.fixture
def local_setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config(maintenance={"brake_fraction": 0.5})
    return s


def test_an_unhealthy_node_is_replaced_after_its_timeout(local_setup, tmp_path):
    with local_setup.occo() as occo:
        infra_id = occo.build(web(tmp_path / "d"))["infra_id"]
        sick = occo.store.list_instances(infra_id)[0]
        break_health(local_setup, infra_id, sick.instance_id)
        first = occo.maintain_once(infra_id)
        assert first["status"] == "unchanged"  # unhealthy, but not for long enough yet
        assert str(occo.store.get_instance(sick.instance_id).state) == "unhealthy"
        outcome = wait_until(lambda: (lambda o: o if o["created"] else None)(
            occo.maintain_once(infra_id)), timeout=30, interval=0.3,
            what="the replacement of the unhealthy node")
        assert outcome["created"] == 1 and outcome["dropped"] == 1
        ids = {i.instance_id for i in occo.store.list_instances(infra_id)}
        assert sick.instance_id not in ids and len(ids) == 3
        kinds = [e["type"] for e in occo.events(infra_id)]
        assert "node.unhealthy" in kinds and "healing" in kinds
        occo.destroy(infra_id)


def test_the_brake_stops_a_replacement_storm(local_setup, tmp_path):
    with local_setup.occo() as occo:
        infra_id = occo.build(web(tmp_path / "d"))["infra_id"]
        before = {i.instance_id for i in occo.store.list_instances(infra_id)}
        for instance_id in sorted(before)[:2]:  # 2 of 3 (67% > 50%) go bad
            break_health(local_setup, infra_id, instance_id)

        def braked():
            occo.maintain_once(infra_id)
            return any(e["type"] == "healing.braked" for e in occo.events(infra_id))

        wait_until(braked, timeout=30, interval=0.3, what="the brake")
        assert {i.instance_id for i in occo.store.list_instances(infra_id)} == before
        brake = [e for e in occo.events(infra_id) if e["type"] == "healing.braked"][-1]
        assert "not replacing any" in brake["details"]["message"]
        assert not [e for e in occo.events(infra_id) if e["type"] == "healing"]
        occo.destroy(infra_id)
