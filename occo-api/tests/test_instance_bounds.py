"""Bounds on instances (``instances:`` of occo.yaml) at every entry point: validate, plan,
build, scale from the CLI (exit 2, the field on stderr) and REST POST and scale paths
(400, the field in the JSON), with nothing stored or queued when refused."""

from __future__ import annotations

import json

import pytest
import yaml
from e2e import DUMMY, write_description
from e2e import Setup as CliSetup
from rest_support import Setup as RestSetup
from test_rest import Running


@pytest.fixture
def cli(tmp_path):
    s = CliSetup(tmp_path)
    s.write_config()
    return s


def described(directory, **scaling):
    return write_description(directory, "bounded", {
        "db": {"type": "t"}, "web": {"type": "t", "scaling": scaling}},
        [("web", "db")], {"t": DUMMY})


def _state(store, infra_id: str) -> tuple:
    """What a refused request must leave as it was: the instances (not the times a
    background maintenance pass may confirm them at), scaling events, targets, requests."""
    return ({(r.instance_id, r.node_name, r.state, r.intent)
             for r in store.list_instances(infra_id)},
            [(e.position, e.type) for e in store.read_events(infra_id)
             if e.type.startswith("scaling")],
            store.get_scaling_targets(infra_id), store.peek_scaling_requests(infra_id))


def _line_of(path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize("command", ["validate", "plan", "build"])
def test_a_billion_instances_is_a_located_error_and_nothing_is_stored(cli, tmp_path, command):
    infra = described(tmp_path / "d", min=1_000_000_000)
    proc = cli.cli(command, str(infra), timeout=120)
    assert proc.returncode == 2, proc.stderr
    line = _line_of(infra, "min: 1000000000")
    assert f"{infra.resolve()}:{line}:" in proc.stderr
    assert "nodes[1].scaling.min: 1000000000 instances exceed the limit of 10000 per node " \
           "(setting instances.max_per_node)" in proc.stderr
    assert "Traceback" not in proc.stderr
    with cli.occo() as occo:
        assert occo.store.list_infrastructures() == []


def test_the_sum_over_the_infrastructure_bound_as_configured(cli, tmp_path):
    cli.write_config(instances={"max_per_node": 50, "max_per_infrastructure": 40})
    infra = described(tmp_path / "d", min=1, max=40)   # 40 + db's 1
    proc = cli.cli("validate", str(infra), "--json")
    assert proc.returncode == 2
    error = json.loads(proc.stderr)["error"]["errors"][0]
    assert error["error"] == "InstanceLimitError" and error["path"] == "nodes"
    assert error["file"] == str(infra.resolve())
    assert "may scale to 41 instances in all (web: 40, db: 1)" in error["message"]
    assert "limit of 40 per infrastructure (setting instances.max_per_infrastructure)" \
        in error["message"]
    cli.write_config(instances={"max_per_node": 50, "max_per_infrastructure": 41})
    assert cli.cli("validate", str(infra)).returncode == 0


@pytest.mark.parametrize("bad, message", [
    (0, "must be an integer >= 1, got 0"),
    ("many", "must be an integer >= 1, got 'many'"),
])
def test_the_limits_themselves_are_checked_where_written(cli, tmp_path, bad, message):
    cli.write_config(instances={"max_per_node": bad})
    proc = cli.cli("validate", str(described(tmp_path / "d", min=1)))
    assert proc.returncode == 2
    line = _line_of(cli.config_file, "max_per_node")
    assert f"occo.yaml:{line}:" in proc.stderr and "instances.max_per_node" in proc.stderr
    assert message in proc.stderr


def test_config_show_gives_the_bounds(cli):
    cli.write_config(instances={"max_per_node": 7})
    shown = yaml.safe_load(cli.cli("config", "show", check=True).stdout)
    assert shown["instances"] == {"max_per_node": 7, "max_per_infrastructure": 100_000}


@pytest.mark.parametrize("args, field, count", [
    (["-c", "+20000"], "change", 20000),
    (["-s", "10001"], "count", 10001),
    (["-s", "9007199254740991"], "count", 9007199254740991),
    (["--queue-only", "-c", "1000000000"], "change", 1000000000),
])
def test_a_scale_request_over_the_bound_exits_2_and_queues_nothing(cli, tmp_path, args,
                                                                     field, count):
    infra = described(tmp_path / "d", min=1, max=3)
    with cli.occo() as occo:
        infra_id = occo.build(infra)["infra_id"]
        before = _state(occo.store, infra_id)
    proc = cli.cli("scale", "-i", infra_id, "-n", "web", *args)
    assert proc.returncode == 2, proc.stderr
    assert f"{field}: {count} instances exceed the limit of 10000 per node " \
           "(setting instances.max_per_node)" in proc.stderr
    assert "Traceback" not in proc.stderr
    with cli.occo() as occo:
        assert occo.store.peek_scaling_requests(infra_id) == []
        assert _state(occo.store, infra_id) == before


def test_growing_a_node_stored_above_lowered_bounds_is_refused(cli, tmp_path):
    infra = described(tmp_path / "d", min=1, max=30)
    with cli.occo() as occo:
        infra_id = occo.build(infra)["infra_id"]
    cli.write_config(instances={"max_per_node": 20})
    proc = cli.cli("scale", "-i", infra_id, "-n", "web", "-c", "+2")
    assert proc.returncode == 2
    assert "node 'web' may grow to 30 instances (its scaling.max as stored)" in proc.stderr
    assert "build the description again within the limit" in proc.stderr
    down = cli.cli("scale", "-i", infra_id, "-n", "web", "--queue-only", "-c", "-1")
    assert down.returncode == 0, down.stderr   # shrinking is always allowed
    with cli.occo() as occo:
        assert [r.kind for r in occo.store.peek_scaling_requests(infra_id)] == ["destroy"]


# ---------------------------------------------------------------------- REST

@pytest.fixture
def rest(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    setup = RestSetup(tmp_path)
    setup.write()
    running = Running(setup)
    yield running
    running.stop()


BILLION = """\
infra_name: huge
nodes:
  - {name: db, type: db_t}
  - {name: app, type: app_t, scaling: {min: 2, max: 1000000000}}
"""


def test_rest_post_over_the_bound_is_400_naming_the_field(rest):
    status, body, _ = rest.client.post("/infrastructures/", BILLION)
    assert status == 400, body
    error = body["errors"][0]
    assert error["error"] == "InstanceLimitError" and error["path"] == "nodes[1].scaling.max"
    assert error["line"] == 4
    assert "1000000000 instances exceed the limit of 10000 per node" in error["message"]
    assert rest.client.get("/infrastructures/")[1]["items"] == []
    assert rest.service.occo.store.list_infrastructures() == []


@pytest.mark.parametrize("path, field, count", [
    ("scaleup/app/10001", "count", 10001),
    ("scaleto/app/4000000000", "count", 4000000000),
])
def test_rest_scale_over_the_bound_is_400_and_queues_nothing(rest, path, field, count):
    infra_id = rest.build()
    store = rest.service.occo.store
    before = _state(store, infra_id)
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/{path}")
    assert status == 400, body
    assert body["error"] == "InstanceLimitError" and body["path"] == field
    assert body["node"] == "app" and body["infra_id"] == infra_id
    assert body["message"] == (f"{count} instances exceed the limit of 10000 per node "
                               "(setting instances.max_per_node)")
    assert store.peek_scaling_requests(infra_id) == []
    assert _state(store, infra_id) == before
