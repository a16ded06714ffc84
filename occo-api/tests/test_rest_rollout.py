"""A changed description over REST (issue 24): the plan paths answer what a build would
replace and why, with secrets masked; POST /infrastructures/ replaces in turn, with the
rollout's events in the event log; /rollback returns to the previous definition, and is a
400 where there is none."""

from __future__ import annotations

import pytest
from rest_support import DESCRIPTION, Setup, built
from test_rest import Running

from occo.util.testing import wait_until

CHANGED = DESCRIPTION.replace("hunter2-secret", "hunter3-secret").replace(
    "{name: app, type: app_t, scaling: {min: 1, max: 3}}",
    "{name: app, type: app_t, scaling: {min: 2, max: 3}, update: {max_surge: 2}}")
# the app's instances read the password: a change of it is a reason to replace them
NODES = """\
'node_def:db_t':
  - resource: {type: dummy, create_latency: 0.02}
'node_def:app_t':
  - resource: {type: dummy, create_latency: 0.02}
    contextualisation:
      type: basic
      attributes: {login: '{{ variables.db_password }}', db: "{{ getip('db') }}"}
"""


@pytest.fixture
def rest(setup):
    running = Running(setup)
    yield running
    running.stop()


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    s = Setup(tmp_path)
    s.write()
    (s.root / "nodes.yaml").write_text(NODES)
    return s


def instance_ids(rest, infra_id, node):
    status, body, _ = rest.client.get(f"/infrastructures/{infra_id}?format=occo")
    assert status == 200, body
    [entry] = [n for n in body["nodes"] if n["name"] == node]
    return sorted(i["instance_id"] for i in entry["instances"])


def test_plan_rollout_and_rollback_over_rest(rest):
    infra_id = rest.build()
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/rollback")
    assert status == 400, body
    assert "has no previous definition to return to" in body["message"]
    old_app = instance_ids(rest, infra_id, "app")

    status, plan, _ = rest.client.post(f"/infrastructures/{infra_id}/plan", CHANGED)
    assert status == 200, plan
    assert plan["replaces"] == 1 and plan["creates"] == 1
    assert plan["nodes"]["app"]["update"] == {"max_surge": 2, "max_unavailable": 0,
                                             "min_ready_seconds": 0}
    [item] = plan["nodes"]["app"]["replacements"]
    assert item["changes"] == [{"key": "variables.db_password", "old": "***", "new": "***"}]
    assert "hunter" not in str(plan)
    status, stored_plan, _ = rest.client.get(f"/infrastructures/{infra_id}/plan")
    assert status == 200 and stored_plan["replaces"] == 0, stored_plan

    status, body, _ = rest.client.post("/infrastructures/", CHANGED)
    assert status == 202 and body["infraid"] == infra_id, body
    wait_until(lambda: built(rest.client, infra_id), what="the rollout finished")
    new_app = instance_ids(rest, infra_id, "app")
    assert len(new_app) == 2 and not set(new_app) & set(old_app)
    status, log, _ = rest.client.get(f"/infrastructures/{infra_id}/events?limit=10000")
    types = [e["type"] for e in log["events"]]
    assert "rollout.started" in types and "node.replacing" in types
    assert types.index("rollout.started") < types.index("rollout.finished")
    assert "hunter" not in str(log)

    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/rollback")
    assert status == 202 and body["rollback"] is True, body
    wait_until(lambda: built(rest.client, infra_id), what="rolled back")
    # built from the first password again; the scaling target (2) is within the previous
    # definition's limits (1..3), so it stays
    status, plan, _ = rest.client.post(f"/infrastructures/{infra_id}/plan", DESCRIPTION)
    assert status == 200 and plan["replaces"] == 0 and plan["creates"] == 0, plan
    rolled = instance_ids(rest, infra_id, "app")
    assert len(rolled) == 2 and not set(rolled) & set(new_app)
    status, shown, _ = rest.client.get(f"/infrastructures/{infra_id}?format=occo")
    assert "hunter" not in str(shown)


def test_a_bad_plan_body_is_a_located_400_and_changes_nothing(rest):
    infra_id = rest.build()
    bad = CHANGED.replace("update: {max_surge: 2}", "update: {max_surge: 0}")
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/plan", bad)
    assert status == 400, body
    assert "must not both be 0" in str(body)
    status, body, _ = rest.client.post("/infrastructures/no-such/rollback")
    assert status == 404, body
    status, plan, _ = rest.client.get(f"/infrastructures/{infra_id}/plan")
    assert status == 200 and plan["replaces"] == 0


@pytest.mark.parametrize("ref", ["name", "prefix"])
def test_infraid_of_a_post_takes_a_name_or_an_id_prefix_like_the_paths(rest, ref):
    infra_id = rest.build()
    given = "shop" if ref == "name" else infra_id[:8]
    status, body, _ = rest.client.post(f"/infrastructures/?infraid={given}", CHANGED)
    assert status == 202 and body["infraid"] == infra_id, body
    wait_until(lambda: built(rest.client, infra_id), what="the rollout finished")
    status, listed, _ = rest.client.get("/infrastructures/")
    assert listed["infrastructures"] == [infra_id]
