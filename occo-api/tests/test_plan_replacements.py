"""A changed description under a running infrastructure: plan names the instances to
replace and why (the keys that differ, as a diff, secrets masked, replacements forced by
a dependency), a change of scaling only replaces nothing, and maintenance leaves outdated
instances running and says so (issue 24, deliverables 1 and 2)."""

from __future__ import annotations

import json

import pytest
from e2e import Setup, write_description

from occo.api.render import status_table


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


def dummy(latency=0.01, **context):
    impl = {"resource": {"type": "dummy", "create_latency": latency}}
    if context:
        impl["contextualisation"] = {"type": "basic", "attributes": context}
    return [impl]


def shop(directory, *, db=None, app=None, app_scaling=None, variables=None):
    """db, and app whose template reads getip('db') and the variables."""
    app_spec = {"type": "app_t"}
    if app_scaling:
        app_spec["scaling"] = app_scaling
    return write_description(directory, "shop", {"db": {"type": "db_t"}, "app": app_spec},
                             [("app", "db")],
                             {"db_t": db or dummy(),
                              "app_t": app or dummy(db="{{ getip('db') }}",
                                                    greeting="{{ variables.greeting }}",
                                                    login="{{ variables.db_password }}")},
                             variables=variables or {"greeting": "hello",
                                                     "db_password": "s3cret-one"})


def replacements(plan, node):
    return plan["nodes"][node]["replacements"]


def keys(items):
    return sorted({c["key"] for item in items for c in item["changes"]})


def test_an_unchanged_description_replaces_nothing_and_records_what_it_was_built_from(
        setup, tmp_path):
    infra = shop(tmp_path / "a")
    with setup.occo() as occo:
        built = occo.build(infra)
        assert built["status"] == "ready" and built["outdated"] == 0
        [app] = occo.store.list_instances(built["infra_id"], "app")
        made = app.implementation["built_from"]
        [db] = occo.store.list_instances(built["infra_id"], "db")
        assert made["lookups"] == {"getip('db')": db.addresses[0]}
        assert made["variables"]["greeting"] == "hello"
        assert made["digest"].startswith("sha256:") and len(made["digest"]) == 71
        plan = occo.plan(infra)
    assert plan["replaces"] == plan["creates"] == plan["drops"] == 0
    assert plan["unchanged"] == 2
    assert {n: e["unchanged"] for n, e in plan["nodes"].items()} == {"db": 1, "app": 1}


def test_a_changed_resource_key_is_a_replacement_with_its_diff(setup, tmp_path):
    assert setup.cli("build", str(shop(tmp_path / "a"))).returncode == 0
    changed = shop(tmp_path / "b", app=dummy(0.02, db="{{ getip('db') }}",
                                            greeting="{{ variables.greeting }}",
                                            login="{{ variables.db_password }}"))
    proc = setup.cli("plan", str(changed), "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["replaces"] == 1 and plan["nodes"]["db"]["replace"] == 0
    [item] = replacements(plan, "app")
    assert item["changes"] == [{"key": "resource.create_latency", "old": 0.01, "new": 0.02}]
    assert item["forced_by"] == [] and item["built_from"].startswith("sha256:")
    text = setup.cli("plan", str(changed))
    assert "0 to create, 0 to drop, 1 to replace, 1 unchanged" in text.stdout
    assert "- resource.create_latency: 0.01" in text.stdout
    assert "+ resource.create_latency: 0.02" in text.stdout
    assert f"app {item['instance_id']}:" in text.stdout


def test_a_changed_variable_is_a_replacement(setup, tmp_path):
    assert setup.cli("build", str(shop(tmp_path / "a"))).returncode == 0
    changed = shop(tmp_path / "b", variables={"greeting": "hi", "db_password": "s3cret-one"})
    plan = json.loads(setup.cli("plan", str(changed), "--json").stdout)
    [item] = replacements(plan, "app")
    assert item["changes"] == [{"key": "variables.greeting", "old": "hello", "new": "hi"}]
    # db's node has the infrastructure's variables too, but no template of it names one
    assert plan["nodes"]["db"]["replace"] == 0 and plan["nodes"]["db"]["unchanged"] == 1


def test_a_changed_secret_is_a_masked_reason(setup, tmp_path):
    assert setup.cli("build", str(shop(tmp_path / "a"))).returncode == 0
    changed = shop(tmp_path / "b", variables={"greeting": "hello", "db_password": "s3cret-two"})
    for args in (["--json"], []):
        proc = setup.cli("plan", str(changed), *args)
        assert proc.returncode == 0, proc.stderr
        assert "s3cret" not in proc.stdout + proc.stderr
    plan = json.loads(setup.cli("plan", str(changed), "--json").stdout)
    [item] = replacements(plan, "app")
    assert item["changes"] == [{"key": "variables.db_password", "old": "***", "new": "***"}]


def test_a_change_of_scaling_only_replaces_nothing(setup, tmp_path):
    assert setup.cli("build", str(shop(tmp_path / "a"))).returncode == 0
    bigger = shop(tmp_path / "b", app_scaling={"min": 2, "max": 4})
    plan = json.loads(setup.cli("plan", str(bigger), "--json").stdout)
    assert plan["replaces"] == 0 and plan["creates"] == 1
    assert plan["nodes"]["app"]["create"] == 1 and plan["nodes"]["app"]["unchanged"] == 1
    assert all(not e["replacements"] for e in plan["nodes"].values())


def test_a_dependency_whose_address_changes_forces_its_dependent(setup, tmp_path):
    assert setup.cli("build", str(shop(tmp_path / "a"))).returncode == 0
    moved = shop(tmp_path / "b", db=dummy(0.03))
    plan = json.loads(setup.cli("plan", str(moved), "--json").stdout)
    assert keys(replacements(plan, "db")) == ["resource.create_latency"]
    [item] = replacements(plan, "app")
    assert item["forced_by"] == ["db"]
    [change] = item["changes"]
    assert change["key"] == "lookups.getip('db')" and change["forced_by"] == "db"
    assert change["old"].count(".") == 3      # the address it was built with
    text = setup.cli("plan", str(moved)).stdout
    assert "forced by db" in text
    assert "+ lookups.getip('db'): (changes: db is replaced or dropped)" in text


def test_maintenance_leaves_outdated_instances_running_and_says_so(setup, tmp_path):
    """Only a build replaces (test_rollouts.py): a maintenance pass over a stored
    description that instances no longer match reports them and keeps them."""
    with setup.occo() as occo:
        built = occo.build(shop(tmp_path / "a"))
        infra_id = built["infra_id"]
        before = sorted(r.instance_id for r in occo.store.list_instances(infra_id))
        changed = occo.validate(shop(tmp_path / "b", variables={
            "greeting": "hi", "db_password": "s3cret-one"}))
        occo.store.update_infrastructure(infra_id, expected_version=None,
                                         description=changed.to_dict())
        [outcome] = occo.maintain(infra_id, once=True)
        assert outcome["outdated"] == 1 and outcome["created"] == outcome["dropped"] == 0
        status = occo.status(infra_id)
        assert sorted(r.instance_id for r in occo.store.list_instances(infra_id)) == before
        events = [e for e in occo.events(infra_id) if e["type"] == "node.outdated"]
    assert {n["name"]: [i["outdated"] for i in n["instances"]]
            for n in status["nodes"]} == {"db": [False], "app": [True]}
    assert [e["node_name"] for e in events] == ["app"]
    assert all(e["details"]["keys"] == ["variables.greeting"] for e in events)
    assert "they keep running until a build replaces them" in events[0]["details"]["message"]
    text = status_table(status)
    assert text.count("(outdated)") == 1
    assert "1 instance(s) outdated" in text


def test_plan_of_the_stored_infrastructure_compares_with_its_stored_description(
        setup, tmp_path):
    with setup.occo() as occo:
        built = occo.build(shop(tmp_path / "a"))
        plan = occo.plan(infra_id=built["infra_id"])
    assert plan["replaces"] == 0 and plan["unchanged"] == 2
