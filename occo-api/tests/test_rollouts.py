"""Building a changed description replaces the outdated instances in turn (issue 24,
deliverable 3): new ones are made and ready before old ones go, within each node's
``update`` limits; a rollout that fails leaves the old instances serving, and
``occo build --rollback`` (or ``--auto-rollback``) returns to the previous definition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e import Setup, local_definition, write_description


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


def dummy(latency=0.01, **resource):
    return [{"resource": {"type": "dummy", "create_latency": latency, **resource},
             "contextualisation": {"type": "basic",
                                   "attributes": {"db": "{{ getip('db') }}",
                                                  "greeting": "{{ variables.greeting }}"}}}]


def shop(directory, *, greeting="hello", apps=3, app=None, update=None):
    app_spec = {"type": "app_t", "scaling": {"min": apps, "max": apps}}
    if update is not None:
        app_spec["update"] = update
    return write_description(directory, "shop", {"db": {"type": "db_t"}, "app": app_spec},
                             [("app", "db")],
                             {"db_t": [{"resource": {"type": "dummy",
                                                     "create_latency": 0.01}}],
                              "app_t": app or dummy()},
                             variables={"greeting": greeting})


def ids(occo, infra_id, node):
    return sorted(r.instance_id for r in occo.store.list_instances(infra_id, node))


def event_types(occo, infra_id):
    return [e["type"] for e in occo.events(infra_id, limit=100_000)]


def test_a_changed_definition_is_replaced_one_at_a_time(setup, tmp_path):
    with setup.occo() as occo:
        first = occo.build(shop(tmp_path / "a"))
        infra_id = first["infra_id"]
        old_apps, [db] = ids(occo, infra_id, "app"), ids(occo, infra_id, "db")
        out = occo.build(shop(tmp_path / "b", greeting="hi"))
        assert out["status"] == "ready" and out["outdated"] == 0, out
        assert out["warnings"] == []
        new_apps = ids(occo, infra_id, "app")
        assert len(new_apps) == 3 and not set(new_apps) & set(old_apps)
        assert ids(occo, infra_id, "db") == [db]          # its definition did not change
        assert out["created"] == 3 and out["dropped"] == 3
        # one at a time (max_surge 1, max_unavailable 0): at least one pass per instance
        assert out["rollout"]["finished"] and out["rollout"]["passes"] >= 4
        assert all(r.state == "ready" for r in occo.store.list_instances(infra_id))
        assert occo.plan(shop(tmp_path / "b", greeting="hi"))["replaces"] == 0
        types = event_types(occo, infra_id)
    assert types.count("rollout.started") == 1 and types.count("rollout.finished") == 1
    assert "node.replacing" in types and "rollout.failed" not in types
    # the wanted count never went below 3: each drop came after a new instance was ready
    assert types.index("rollout.started") < types.index("rollout.finished")


def test_the_surge_limit_sets_how_many_are_replaced_at_once(setup, tmp_path):
    with setup.occo() as occo:
        one = occo.build(shop(tmp_path / "a"))
        slow = occo.build(shop(tmp_path / "b", greeting="hi"))
        fast = occo.build(shop(tmp_path / "c", greeting="hey", update={"max_surge": 3}))
        assert slow["status"] == fast["status"] == "ready"
        assert ids(occo, one["infra_id"], "app") and fast["outdated"] == 0
    assert fast["rollout"]["passes"] < slow["rollout"]["passes"]


def test_update_limits_below_the_wanted_count(setup, tmp_path):
    """max_unavailable 1, max_surge 0: an old instance goes before its replacement comes,
    and the node never has more than 3."""
    with setup.occo() as occo:
        occo.build(shop(tmp_path / "a"))
        out = occo.build(shop(tmp_path / "b", greeting="hi",
                              update={"max_surge": 0, "max_unavailable": 1}))
        assert out["status"] == "ready" and out["outdated"] == 0, out
        infra_id = out["infra_id"]
        replacing = [e for e in occo.events(infra_id, limit=100_000)
                     if e["type"] == "node.replacing"]
        assert len(ids(occo, infra_id, "app")) == 3
    assert replacing and all(e["details"]["max_surge"] == 0 for e in replacing)


def test_a_failed_rollout_keeps_the_old_instances_serving_and_rollback_returns(
        setup, tmp_path):
    good = shop(tmp_path / "a", apps=2)
    assert setup.cli("build", str(good)).returncode == 0
    with setup.occo() as occo:
        [record] = occo.store.list_infrastructures()
        old_apps = ids(occo, record.infra_id, "app")
    broken = shop(tmp_path / "b", apps=2, greeting="hi", app=dummy(fail_rate=1.0))
    proc = setup.cli("build", str(broken), "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["result"]
    assert result["outdated"] == 2 and not result["rollout"]["finished"]
    assert "2 instance(s) of the previous definition are still serving" in proc.stderr
    assert "`occo build --rollback` returns to the previous definition" in proc.stderr
    status = setup.cli("status", "-i", "shop")
    assert status.stdout.count("(outdated)") == 2
    with setup.occo() as occo:
        assert ids(occo, record.infra_id, "app") == old_apps   # nothing of theirs dropped
        assert all(r.state == "ready" for r in occo.store.list_instances(record.infra_id))
        failed = [e for e in occo.events(record.infra_id, limit=100_000)
                  if e["type"] == "rollout.failed"]
    assert len(failed) == 1 and "--rollback" in failed[0]["details"]["message"]

    back = setup.cli("build", "--rollback", "-i", "shop", "--json")
    assert back.returncode == 0, back.stdout + back.stderr
    result = json.loads(back.stdout)["result"]
    assert result["status"] == "ready" and result["outdated"] == 0
    assert result["created"] == 0 and result["dropped"] == 0   # the old ones are current
    with setup.occo() as occo:
        assert ids(occo, record.infra_id, "app") == old_apps
        stored = occo.store.get_infrastructure(record.infra_id).description
        # the definition rolled back from is now the previous one: --rollback again
        # would go forward to it
        assert stored["variables"] == {"greeting": "hello"}
        assert stored["previous"]["variables"] == {"greeting": "hi"}
        assert occo.plan(good)["replaces"] == 0


def test_auto_rollback_returns_at_once(setup, tmp_path):
    assert setup.cli("build", str(shop(tmp_path / "a", apps=2))).returncode == 0
    broken = shop(tmp_path / "b", apps=2, greeting="hi", app=dummy(fail_rate=1.0))
    proc = setup.cli("build", str(broken), "--auto-rollback", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr   # the build itself failed
    result = json.loads(proc.stdout)["result"]
    assert result["rolled_back"]["status"] == "ready"
    assert result["rolled_back"]["outdated"] == 0
    assert "rolled back to the previous definition: ready" in proc.stderr
    with setup.occo() as occo:
        [record] = occo.store.list_infrastructures()
        assert record.description["variables"] == {"greeting": "hello"}
        assert record.status == "ready"
        assert "rollout.rolling_back" in event_types(occo, record.infra_id)


def test_auto_rollback_from_the_configuration(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config(rollout={"auto_rollback": True})
    with setup.occo() as occo:
        occo.build(shop(tmp_path / "a", apps=1))
        out = occo.build(shop(tmp_path / "b", apps=1, greeting="hi",
                              app=dummy(fail_rate=1.0)))
        assert out["rolled_back"]["status"] == "ready"
        assert occo.config.rollout == {"auto_rollback": True}
    setup.write_config(rollout={"auto_rollback": "yes"})
    proc = setup.cli("status")
    assert proc.returncode == 2
    assert "rollout.auto_rollback" in proc.stderr


def test_rollback_without_a_previous_definition_is_a_clear_error(setup, tmp_path):
    assert setup.cli("build", str(shop(tmp_path / "a", apps=1))).returncode == 0
    proc = setup.cli("build", "--rollback", "-i", "shop")
    assert proc.returncode == 2
    assert "has no previous definition to return to" in proc.stderr
    for args, message in ((["build", "--rollback", str(tmp_path / "a/infra.yaml"), "-i",
                            "shop"], "give -i INFRA and no description file"),
                          (["build", "--rollback"], "--rollback needs -i INFRA"),
                          (["build"], "needs a description file")):
        proc = setup.cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr
    with setup.occo() as occo:
        [record] = occo.store.list_infrastructures()
        assert record.status == "ready" and "previous" not in record.description


def test_a_rebuild_of_the_same_description_keeps_the_previous_definition(setup, tmp_path):
    with setup.occo() as occo:
        occo.build(shop(tmp_path / "a", apps=1))
        occo.build(shop(tmp_path / "b", apps=1, greeting="hi"))
        out = occo.build(shop(tmp_path / "b", apps=1, greeting="hi"))
        assert out["status"] == "ready" and "rollout" not in out
        [record] = occo.store.list_infrastructures()
        assert record.description["previous"]["variables"] == {"greeting": "hello"}


def test_plan_shows_the_limits_and_says_build_replaces(setup, tmp_path):
    assert setup.cli("build", str(shop(tmp_path / "a"))).returncode == 0
    changed = shop(tmp_path / "b", greeting="hi", update={"max_surge": 2})
    plan = json.loads(setup.cli("plan", str(changed), "--json").stdout)
    assert plan["replaces"] == 3 and plan["creates"] == plan["drops"] == 0
    assert plan["nodes"]["app"]["update"] == {"max_surge": 2, "max_unavailable": 0,
                                             "min_ready_seconds": 0}
    assert "update" not in plan["nodes"]["db"]
    text = setup.cli("plan", str(changed)).stdout
    assert "`occo build` replaces them in turn" in text
    bad = shop(tmp_path / "c", update={"max_surge": 0, "max_unavailable": 0})
    proc = setup.cli("plan", str(bad))
    assert proc.returncode == 2
    assert "infra.yaml" in proc.stderr and "must not both be 0" in proc.stderr


def test_on_the_local_cloud_each_instance_runs_the_new_command(setup, tmp_path):
    def described(directory, command):
        node = local_definition(command, health_check={"ping": False})
        return write_description(directory, "cmd", {
            "app": {"type": "app_t", "scaling": {"min": 2, "max": 2}}}, [],
            {"app_t": [node]})

    def running_commands(infra_id):
        found = {}
        for rec in occo.store.list_instances(infra_id, "app"):
            child = json.loads((setup.local_root / infra_id / rec.instance_id /
                                "child.json").read_text())
            argv = Path(f"/proc/{child['pid']}/cmdline").read_bytes().split(b"\0")
            found[rec.instance_id] = b" ".join(a for a in argv if a).decode()
        return found

    with setup.occo() as occo:
        first = occo.build(described(tmp_path / "a", "exec sleep 600"))
        infra_id = first["infra_id"]
        before = running_commands(infra_id)
        assert set(before.values()) == {"sleep 600"}
        plan = occo.plan(described(tmp_path / "b", "exec sleep 601"))
        assert plan["replaces"] == 2
        assert {c["key"] for r in plan["nodes"]["app"]["replacements"]
                for c in r["changes"]} == {"resource.command"}
        out = occo.build(described(tmp_path / "b", "exec sleep 601"))
        assert out["status"] == "ready" and out["outdated"] == 0, out
        after = running_commands(infra_id)
        assert set(after.values()) == {"sleep 601"} and not set(after) & set(before)
        # the replaced processes are gone
        for iid in before:
            child = json.loads((setup.local_root / infra_id / iid / "child.json").read_text()) \
                if (setup.local_root / infra_id / iid / "child.json").exists() else None
            assert child is None or not Path(f"/proc/{child['pid']}").exists() or \
                b"sleep" not in Path(f"/proc/{child['pid']}/cmdline").read_bytes()
        occo.destroy(infra_id)
