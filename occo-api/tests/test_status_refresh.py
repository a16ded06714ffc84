"""``occo status`` says when the states it shows were last confirmed; ``--refresh`` (and
REST ``?refresh=1``) asks the clouds and health checks now, classifies as a maintenance
pass would, and writes, heals and queues nothing.

Instances are killed or dropped behind OCCO's back on real backends: the dummy cloud
(through a cloud handler of its own on the same simulated cloud), local processes
(SIGKILL, and a health URL that stops answering), and EC2 (moto's server) that stops
answering at all.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest
from e2e import (
    Setup,
    cloud_nodes,
    ec2_auth_data,
    ec2_definition,
    local_definition,
    start_moto,
    write_description,
)
from rest_support import Client

from occo.api.config import load_config
from occo.api.render import status_table
from occo.api.rest import RestService
from occo.enactor import lease_name
from occo.util.testing import wait_until

DUMMY = [{"resource": {"type": "dummy", "create_latency": 0.02}}]
SERVE = "exec \"$OCCO_PYTHON\" -m http.server 8080 --bind \"$OCCO_NODE_IP\""
STORED = re.compile(r"^state as stored, last confirmed (\d+) s ago \((by maintenance|when it "
                    r"was built or last changed)\); `occo status --refresh` asks the clouds "
                    r"now$")


def shop(directory):
    return write_description(directory, "shop", {
        "db": {"type": "t"}, "app": {"type": "t", "scaling": {"min": 2, "max": 3}}},
        [("app", "db")], {"t": DUMMY})


def snapshot(occo, infra_id: str) -> dict:
    """Everything a refresh must leave as it was: records (with their versions), the
    scaling queue and targets, failure timers, events and the maintenance lease."""
    store = occo.store
    return {"instances": sorted((r.instance_id, str(r.state), str(r.intent), r.version,
                                 r.updated_at, r.checked_at)
                                for r in store.list_instances(infra_id)),
            "requests": [r.to_dict() for r in store.peek_scaling_requests(infra_id)],
            "targets": store.get_scaling_targets(infra_id),
            "timers": store.get_failure_timers(infra_id),
            "events": [e.to_dict() for e in store.read_events(infra_id, limit=100_000)],
            "lease": store.lease_holder(lease_name(infra_id)),
            "infra": store.get_infrastructure(infra_id).to_dict()}


def instances_of(status: dict) -> dict[str, dict]:
    return {i["instance_id"]: i for n in status["nodes"] for i in n["instances"]}


# ---------------------------------------------------------------------- dummy cloud

@pytest.fixture
def dummy(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config()  # the dummy cloud in a SQLite file: the CLI processes share it
    return setup


def test_dummy_stored_state_says_when_and_refresh_sees_the_drop_and_heals_nothing(
        dummy, tmp_path):
    with dummy.occo() as occo:
        infra_id = occo.build(shop(tmp_path / "d"))["infra_id"]
        description = occo.store.get_infrastructure(infra_id).description
        victim = occo.store.list_instances(infra_id, "app")[0]
        dummy.cloud().drop_node(victim.resource)   # behind OCCO's back
        cloud_before = sorted(n["instance_id"] for n in cloud_nodes(dummy, description,
                                                                    infra_id))
        assert victim.instance_id not in cloud_before and len(cloud_before) == 2

        stored = occo.status(infra_id)
        shown = instances_of(stored)[victim.instance_id]
        assert (shown["state"], shown["stored_state"], stored["refreshed"]) == \
            ("ready", "ready", False)
        # confirmed by the processor's write when it became ready; nothing checked it since
        assert (shown["confirmed_at"], shown["confirmed_by"]) == (victim.updated_at,
                                                                  "processor")
        assert victim.checked_at is None and stored["observed_at"] is None
        assert stored["confirmed_at"] == min(r.updated_at
                                             for r in occo.store.list_instances(infra_id))
        assert stored["ready"] == 3

        before = snapshot(occo, infra_id)
        started = time.time()
        seen = occo.status(infra_id, refresh=True)
        assert snapshot(occo, infra_id) == before
        assert sorted(n["instance_id"] for n in cloud_nodes(dummy, description, infra_id)) \
            == cloud_before

    assert seen["refreshed"] is True and seen["observed_at"] >= started
    shown = instances_of(seen)
    assert (shown[victim.instance_id]["state"], shown[victim.instance_id]["stored_state"],
            shown[victim.instance_id]["failure"]) == ("failed", "ready", "terminated")
    assert all((i["state"], i["confirmed_by"], i["confirmed_at"]) ==
               ("ready", "refresh", seen["observed_at"])
               for iid, i in shown.items() if iid != victim.instance_id)
    assert seen["ready"] == 2 and seen["instances"] == 3
    assert seen["confirmed_at"] == seen["observed_at"] and seen["confirmed_by"] == "refresh"
    # the scaling counts are intents: a refresh changes none
    assert {n["name"]: n["scaling"]["actual"] for n in seen["nodes"]} == {"db": 1, "app": 2}


def test_cli_status_says_stored_and_refresh_shows_the_dropped_node(dummy, tmp_path):
    with dummy.occo() as occo:
        infra_id = occo.build(shop(tmp_path / "d"))["infra_id"]
        victim = occo.store.list_instances(infra_id, "app")[0]
        before = snapshot(occo, infra_id)
    dummy.cloud().drop_node(victim.resource)

    text = dummy.cli("status", "-i", infra_id, check=True).stdout.rstrip("\n").splitlines()
    row = next(line for line in text if victim.instance_id in line)
    assert row.split()[-2] == "ready"
    found = STORED.match(text[-1])
    assert found and found.group(2) == "when it was built or last changed", text[-1]
    assert 0 <= int(found.group(1)) < 3600

    data = json.loads(dummy.cli("status", "-i", infra_id, "--refresh", "--json",
                                check=True).stdout)
    assert data["refreshed"] is True
    assert instances_of(data)[victim.instance_id]["state"] == "failed"

    text = dummy.cli("status", "-i", infra_id, "--refresh",
                     check=True).stdout.rstrip("\n").splitlines()
    assert text[-1] == "state observed now (refresh): 3 of 3 instance(s) observed"
    assert text[-2] == f"  {victim.instance_id}: stored ready, now failed: terminated"
    row = next(line for line in text[:-2] if victim.instance_id in line)
    assert row.split()[-2] == "failed"

    with dummy.occo() as occo:
        assert snapshot(occo, infra_id) == before
        stored = occo.status(infra_id)   # the refresh wrote nothing: still stored as ready
        assert instances_of(stored)[victim.instance_id]["state"] == "ready"


def test_a_maintenance_pass_then_records_what_the_refresh_showed(dummy, tmp_path):
    with dummy.occo() as occo:
        infra_id = occo.build(shop(tmp_path / "d"))["infra_id"]
        victim = occo.store.list_instances(infra_id, "app")[0]
        dummy.cloud().drop_node(victim.resource)
        seen = instances_of(occo.status(infra_id, refresh=True))[victim.instance_id]
        passed = time.time()
        outcome = occo.maintain_once(infra_id)
        assert outcome["healed"] == 1 and outcome["created"] == 1
        failed = [e for e in occo.events(infra_id) if e["type"] == "node.failed"
                  and e["instance_id"] == victim.instance_id]
        assert [e["details"]["reason"] for e in failed] == [seen["failure"]]
        stored = occo.status(infra_id)
    survivors = [i for i in instances_of(stored).values()
                 if i["instance_id"] != victim.instance_id and i["created_at"] < passed]
    assert len(survivors) == 2
    # the pass observed them: confirmed by maintenance, at the pass (checked_at)
    assert all(i["confirmed_by"] == "maintenance" and i["confirmed_at"] >= passed
               for i in survivors)
    text = status_table(stored, now=stored["confirmed_at"] + 12)
    assert text.splitlines()[-1] == ("state as stored, last confirmed 12 s ago (by "
                                     "maintenance); `occo status --refresh` asks the clouds "
                                     "now")


# ---------------------------------------------------------------------- local processes

def web(directory):
    node = local_definition(SERVE, resource={"files": {"index.html": "ok\n"}},
                            health_check={"ping": False,
                                          "urls": ["http://{{ ip }}:8080/index.html"],
                                          "timeout": 1})
    return write_description(directory, "web", {
        "web": {"type": "web_t", "scaling": {"min": 3, "max": 3}}}, [], {"web_t": [node]})


def node_pid(setup: Setup, infra_id: str, instance_id: str) -> int:
    child = setup.local_root / infra_id / instance_id / "child.json"
    return json.loads(child.read_text())["pid"]


def test_local_killed_and_unhealthy_nodes_are_seen_by_refresh_only(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config()
    with setup.occo() as occo:
        result = occo.build(web(tmp_path / "d"))
        assert result["status"] == "ready", result
        infra_id = result["infra_id"]
        try:
            killed, broken, fine = occo.store.list_instances(infra_id)
            os.kill(node_pid(setup, infra_id, killed.instance_id), signal.SIGKILL)
            (setup.local_root / infra_id / broken.instance_id / "work" / "index.html").unlink()
            dirs = sorted(p.name for p in (setup.local_root / infra_id).iterdir())

            stored = instances_of(occo.status(infra_id))
            assert [stored[r.instance_id]["state"] for r in (killed, broken, fine)] == \
                ["ready"] * 3
            before = snapshot(occo, infra_id)

            def refreshed():
                seen = instances_of(occo.status(infra_id, refresh=True))
                return seen if seen[killed.instance_id]["state"] == "failed" else None
            seen = wait_until(refreshed, timeout=30, what="the killed node seen failed")
            assert snapshot(occo, infra_id) == before
            assert sorted(p.name for p in (setup.local_root / infra_id).iterdir()) == dirs
            assert seen[killed.instance_id]["failure"].startswith(
                "the cloud reports it failed")
            assert seen[broken.instance_id]["state"] == "unhealthy"
            assert "404" in seen[broken.instance_id]["failure"]
            assert (seen[fine.instance_id]["state"], seen[fine.instance_id]["confirmed_by"]) \
                == ("ready", "refresh")

            # the pass that follows records the same classification (and heals)
            occo.maintain_once(infra_id)
            kinds = {(e["type"], e["instance_id"]) for e in occo.events(infra_id)}
            assert ("node.failed", killed.instance_id) in kinds
            assert ("node.unhealthy", broken.instance_id) in kinds
            failure = occo.store.get_instance(broken.instance_id).failure
            assert failure["reason"] == seen[broken.instance_id]["failure"]
        finally:
            occo.destroy(infra_id)


# ---------------------------------------------------------------------- a cloud that hangs

@pytest.fixture
def moto():
    server = start_moto()
    yield server
    os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


def test_a_cloud_that_does_not_answer_gives_unknown_with_the_reason(moto, tmp_path):
    setup = Setup(tmp_path, auth_data=ec2_auth_data(tmp_path))
    setup.write_config()
    infra = write_description(tmp_path / "d", "ec2", {"a": {"type": "t"}}, [],
                              {"t": [ec2_definition(moto)]})
    with setup.occo() as occo:
        infra_id = occo.build(infra)["infra_id"]
        before = snapshot(occo, infra_id)
        os.kill(moto.process.pid, signal.SIGSTOP)   # accepts connections, answers nothing
        try:
            seen = occo.status(infra_id, refresh=True, timeout=1.0)
            assert moto.process.poll() is None   # it returned while the cloud stayed silent
        finally:
            os.kill(moto.process.pid, signal.SIGCONT)
        assert snapshot(occo, infra_id) == before
    (shown,) = instances_of(seen).values()
    assert (shown["state"], shown["stored_state"]) == ("unknown", "ready")
    assert shown["failure"] == ("not observed: cloudhandler.get_states did not answer "
                                "within the 1 s of the refresh")
    assert shown["confirmed_by"] == "processor"   # not confirmed now: the stored time stays
    assert status_table(seen).splitlines()[-1] == (
        "state observed now (refresh): 0 of 1 instance(s) observed, 1 unknown")


# ---------------------------------------------------------------------- REST

@pytest.fixture
def served(dummy, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(dummy.root / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(dummy.root / "xdg-config"))
    dummy.write_config(rest={"token_file": str(dummy.root / "secret" / "token")})
    service = RestService(load_config(dummy.config_file), port=0)
    service.start()
    client = Client(service.port, service.token)
    yield service, client
    client.close()
    assert service.stop() == []


def test_rest_refresh_gives_the_same_and_a_bad_value_is_a_400(served, dummy, tmp_path):
    service, client = served
    occo = service.occo
    infra_id = occo.build(shop(tmp_path / "d"))["infra_id"]   # not maintained: no healing
    victim = occo.store.list_instances(infra_id, "app")[0]
    dummy.cloud().drop_node(victim.resource)
    before = snapshot(occo, infra_id)

    status, body, _ = client.get(f"/infrastructures/{infra_id}?format=occo")
    assert status == 200 and body["refreshed"] is False
    assert instances_of(body)[victim.instance_id]["state"] == "ready"
    assert body["confirmed_at"] == occo.status(infra_id)["confirmed_at"]

    for value in ("1", "true"):
        status, body, _ = client.get(f"/infrastructures/{infra_id}?format=occo&refresh={value}")
        assert status == 200 and body["refreshed"] is True, body
        assert instances_of(body)[victim.instance_id]["state"] == "failed"
        assert instances_of(body)[victim.instance_id]["failure"] == "terminated"
    status, body, _ = client.get(f"/infrastructures/{infra_id}?refresh=1")   # Occopus's shape
    entry = body["app"]["instances"][victim.instance_id]
    assert (status, entry["state"], entry["stored_state"], entry["confirmed_by"]) == \
        (200, "failed", "ready", "refresh")
    for value in ("0", "false"):
        status, body, _ = client.get(f"/infrastructures/{infra_id}?format=occo&refresh={value}")
        assert status == 200 and body["refreshed"] is False
        assert instances_of(body)[victim.instance_id]["state"] == "ready"

    status, body, _ = client.get(f"/infrastructures/{infra_id}?refresh=maybe")
    assert (status, body["error"], body["message"]) == (
        400, "InputError", "query parameter refresh: expected true or false, got 'maybe'")
    assert snapshot(occo, infra_id) == before
    assert len(occo.store.list_instances(infra_id)) == 3
