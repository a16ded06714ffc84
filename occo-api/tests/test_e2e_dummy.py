"""Build, plan, scale, heal and destroy end to end on the dummy cloud (Python API)."""

from __future__ import annotations

import pytest
from e2e import Setup, cloud_nodes, write_description

DUMMY = [{"resource": {"type": "dummy", "create_latency": 0.05}}]


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


def three_tier(directory, app_min=3, app_max=6):
    return write_description(directory, "shop", {
        "db": {"type": "db_t"},
        "app": {"type": "app_t", "scaling": {"min": app_min, "max": app_max}},
        "lb": {"type": "lb_t"}}, [("app", "db"), ("lb", "app")],
        {"db_t": DUMMY, "app_t": DUMMY,
         "lb_t": [{"resource": {"type": "dummy", "create_latency": 0.05},
                   "contextualisation": {"type": "basic",
                                         "attributes": {"backends": "{{ getipall('app') }}"}}}]})


def test_build_then_status_then_destroy(setup, tmp_path):
    infra = three_tier(tmp_path / "d")
    with setup.occo() as occo:
        result = occo.build(infra)
        assert result["status"] == "ready" and result["ready"] == 5
        status = occo.status(result["infra_id"])
        by_node = {n["name"]: n for n in status["nodes"]}
        assert by_node["app"]["scaling"] == {"actual": 3, "target": 3, "min": 3, "max": 6}
        assert all(i["state"] == "ready" and i["addresses"] for n in status["nodes"]
                   for i in n["instances"])
        lb_ready = [e for e in occo.events(result["infra_id"]) if e["type"] == "node.ready"
                    and e["node_name"] == "lb"][0]
        app_ready = [e["time"] for e in occo.events(result["infra_id"])
                     if e["type"] == "node.ready" and e["node_name"] == "app"]
        assert max(app_ready) <= lb_ready["time"], "lb waited for every app"
        description = occo.store.get_infrastructure(result["infra_id"]).description
        assert len(cloud_nodes(setup, description, result["infra_id"])) == 5
        gone = occo.destroy(result["infra_id"])
        assert gone["status"] == "destroyed" and gone["dropped"] == 5
        assert occo.list() == []
        assert cloud_nodes(setup, description, result["infra_id"]) == []


def test_rebuilding_the_same_description_continues_it(setup, tmp_path):
    infra = three_tier(tmp_path / "d")
    with setup.occo() as occo:
        first = occo.build(infra)
        plan = occo.plan(infra)
        assert plan["infra_id"] == first["infra_id"] and plan["creates"] == plan["drops"] == 0
        again = occo.build(infra)
        assert again["infra_id"] == first["infra_id"] and again["created"] == 0
        bigger = three_tier(tmp_path / "d", app_min=5, app_max=8)
        plan = occo.plan(bigger)
        assert plan["creates"] == 2 and plan["nodes"]["app"]["create"] == 2
        grown = occo.build(bigger)
        assert grown["infra_id"] == first["infra_id"] and grown["created"] == 2
        assert len(occo.store.list_instances(first["infra_id"])) == 7


def test_scaling_requests_with_clamping_and_youngest_first(setup, tmp_path):
    with setup.occo() as occo:
        infra_id = occo.build(three_tier(tmp_path / "d"))["infra_id"]
        up = occo.scale(infra_id, "app", change=+10)
        assert up["applied"] and up["target"] == 6
        assert up["warnings"] == ["app: 13 instances requested, clamped to 6 (min 3, max 6)"]
        apps = sorted((i for i in occo.store.list_instances(infra_id) if i.node_name == "app"),
                      key=lambda i: i.created_at)
        assert len(apps) == 6
        down = occo.scale(infra_id, "app", change=-1)
        left = {i.instance_id for i in occo.store.list_instances(infra_id)
                if i.node_name == "app"}
        assert down["target"] == 5 and apps[-1].instance_id not in left, "youngest first"
        named = sorted(left)[0]
        occo.scale(infra_id, "app", remove=named)
        assert named not in {i.instance_id for i in occo.store.list_instances(infra_id)}
        address = occo.store.list_instances(infra_id, "app")[0].addresses[0]
        occo.scale(infra_id, "app", remove=address)
        assert all(address not in i.addresses for i in occo.store.list_instances(infra_id))
        assert occo.status(infra_id)["nodes"][1]["scaling"]["target"] == 3
        to = occo.scale(infra_id, "app", to=5)
        assert to["target"] == 5 and len(occo.store.list_instances(infra_id, "app")) == 5


def test_a_pass_that_dies_after_deciding_leaves_the_request_queued(setup, tmp_path,
                                                                  monkeypatch):
    with setup.occo() as occo:
        infra_id = occo.build(three_tier(tmp_path / "d"))["infra_id"]
        enactor = occo.system.enactor

        def dies(*args, **kwargs):
            raise RuntimeError("the maintainer died here")
        monkeypatch.setattr(enactor, "drift", dies)  # runs after deciding, before recording
        with pytest.raises(RuntimeError, match="died here"):
            occo.scale(infra_id, "app", to=5)
        assert [r.count for r in occo.store.peek_scaling_requests(infra_id)] == [5]
        assert occo.store.get_scaling_targets(infra_id)["app"] == 3
        monkeypatch.undo()
        assert enactor.maintain_once(infra_id)["created"] == 2
        assert occo.store.peek_scaling_requests(infra_id) == []
        assert occo.store.get_scaling_targets(infra_id)["app"] == 5
        assert len(occo.store.list_instances(infra_id, "app")) == 5


def test_a_vanished_node_is_replaced_by_maintenance(setup, tmp_path):
    with setup.occo() as occo:
        infra_id = occo.build(three_tier(tmp_path / "d"))["infra_id"]
        victim = occo.store.list_instances(infra_id, "app")[0]
        cloud = setup.cloud()
        cloud.drop_nodes([victim.resource])  # the cloud loses it behind OCCO's back
        outcome = occo.maintain_once(infra_id)
        assert outcome["created"] == 1
        ids = {i.instance_id for i in occo.store.list_instances(infra_id, "app")}
        assert victim.instance_id not in ids and len(ids) == 3
        kinds = [e["type"] for e in occo.events(infra_id)]
        assert "healing" in kinds and "node.failed" in kinds
        assert occo.maintain_once(infra_id)["status"] == "unchanged"


def test_scale_request_for_an_unknown_node_is_refused(setup, tmp_path):
    from occo.util import InputError
    with setup.occo() as occo:
        infra_id = occo.build(three_tier(tmp_path / "d"))["infra_id"]
        with pytest.raises(InputError, match="has no node 'cache'; known: app, db, lb"):
            occo.scale(infra_id, "cache", change=1)
        # names are compared exactly, as Occopus does; one that differs in case is named
        with pytest.raises(InputError, match="has no node 'APP'; did you mean 'app'"):
            occo.scale(infra_id, "APP", change=1)
        with pytest.raises(InputError, match="a node count must be >= 0, got -2"):
            occo.scale(infra_id, "app", to=-2)


def test_drift_orphans_are_reported_and_cleaned_when_asked(setup, tmp_path):
    with setup.occo() as occo:
        infra_id = occo.build(three_tier(tmp_path / "d"))["infra_id"]
        description = occo.store.get_infrastructure(infra_id).description
        cloud = setup.cloud()  # someone else creates a node with this infrastructure's tags
        cloud.create_nodes([{"instance_id": "stray-1", "infra_id": infra_id,
                             "node_name": "app", "node_type": "app_t",
                             "resource": {"type": "dummy", "create_latency": 0.05}}])
        assert len(cloud_nodes(setup, description, infra_id)) == 6
        reported = occo.maintain_once(infra_id)
        assert reported["status"] == "unchanged"
        drift = [e for e in occo.events(infra_id) if e["type"] == "drift.orphans"]
        assert drift and drift[-1]["details"]["instances"] == ["stray-1"]
        assert "--clean-orphans" in drift[-1]["details"]["message"]
        assert len(cloud_nodes(setup, description, infra_id)) == 6, "reported, not dropped"
        cleaned = occo.maintain_once(infra_id, clean_orphans=True)
        assert cleaned["dropped"] == 1
        left = {ref["instance_id"] for ref in cloud_nodes(setup, description, infra_id)}
        assert "stray-1" not in left and len(left) == 5
        assert left == {i.instance_id for i in occo.store.list_instances(infra_id)}


def test_imported_definitions_build(setup, tmp_path):
    """`occo import`, then a build whose description has no definitions beside it."""
    defs_dir = tmp_path / "defs"
    defs_dir.mkdir()
    (defs_dir / "defs.yaml").write_text(
        "'node_def:t':\n  - resource: {type: dummy, create_latency: 0.02}\n")
    infra = tmp_path / "alone" / "infra.yaml"
    infra.parent.mkdir()
    infra.write_text("infra_name: imported\nnodes:\n  - {name: web, type: t}\n")
    with setup.occo() as occo:
        assert occo.import_node_definitions([defs_dir / "defs.yaml"]) == {"t": 1}
        assert occo.store.get_node_definition("t") == [
            {"resource": {"type": "dummy", "create_latency": 0.02},
             "config_management": {"type": "none"}, "health_check": {"ping": True}}]
        assert occo.build(infra)["status"] == "ready"
