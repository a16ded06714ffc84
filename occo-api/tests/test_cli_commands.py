"""The `occo` command end to end: output, --json, exit statuses, located errors."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import yaml
from e2e import Setup, local_definition, write_description

from occo.infobroker import SQLiteStore
from occo.util.testing import CORPUS, tutorials, tutorials_missing, wait_until

TUTORIALS = tutorials()
DUMMY = [{"resource": {"type": "dummy", "create_latency": 0.02}}]


def descriptions(root: Path | None, label: str) -> list:
    """One param per infrastructure description under ``root``, or one skipped param
    saying why there is none (the Occopus tutorials are optional: OCCO_TUTORIALS)."""
    if root is None:
        return [pytest.param(None, id=f"{label}-missing",
                             marks=pytest.mark.skip(reason=str(tutorials_missing())))]
    return [pytest.param(p, id=f"{label}:{p.parent.name}")
            for p in sorted(root.glob("*/infra*.yaml"))]


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


def small(directory):
    return write_description(directory, "small", {
        "db": {"type": "t"}, "web": {"type": "t", "scaling": {"min": 2, "max": 3}}},
        [("web", "db")], {"t": DUMMY})


@pytest.mark.parametrize("infra", descriptions(CORPUS, "corpus")
                         + descriptions(TUTORIALS, "tutorials"))
def test_every_occopus_format_description_validates_with_the_real_plugins(setup, infra):
    proc = setup.cli("validate", str(infra))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK ") and "instance" in proc.stdout


def test_the_corpus_validates_with_its_numbers_and_warnings(setup):
    assert len(descriptions(CORPUS, "corpus")) == 9
    proc = setup.cli("validate", str(CORPUS / "swarm-cloudsigma" / "infra-swarm-cloudsigma.yaml"),
                     check=True)
    assert proc.stdout == ("OK swarm-cloudsigma: 2 nodes, 4 instances at min scale, "
                           "dependency depth 2\n")
    gallery = CORPUS / "gallery-puppet"
    proc = setup.cli("validate", str(gallery / "infra-gallery-puppet.yaml"), check=True)
    assert proc.stdout.startswith("OK gallery-puppet: 2 nodes, 2 instances at min scale")
    assert f"{gallery / 'nodes' / 'node_definitions.yaml'}:62:20" in proc.stderr
    assert "node 'gallery-web' does not depend on 'gallery-db'" in proc.stderr


def test_validate_reports_located_errors_with_status_2(setup, tmp_path):
    infra = small(tmp_path / "d")
    text = infra.read_text().replace("min: 2", "min: two")
    infra.write_text(text)
    proc = setup.cli("validate", str(infra))
    assert proc.returncode == 2 and proc.stdout == ""
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "min: two" in row)
    assert f"infra.yaml:{line}:" in proc.stderr and "nodes[1].scaling.min" in proc.stderr
    assert "'two'" in proc.stderr
    as_json = setup.cli("validate", str(infra), "--json")
    error = json.loads(as_json.stderr)["error"]
    assert as_json.returncode == 2 and error["errors"][0]["path"] == "nodes[1].scaling.min"


@pytest.mark.parametrize("args, message", [
    (["build", "/nonexistent/infra.yaml"], "file not found: /nonexistent/infra.yaml"),
    (["status", "-i", "no-such-id"], "no infrastructure 'no-such-id'"),
    (["destroy", "-i", "no-such-id"], "no infrastructure 'no-such-id'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["build"], "occo build needs a description file (infra.yaml), or --rollback -i INFRA"),
    (["list", "--colour"], "unrecognized arguments: --colour"),
])
def test_bad_usage_and_missing_things_exit_2(setup, args, message):
    proc = setup.cli(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr


def test_build_status_list_events_scale_destroy(setup, tmp_path):
    infra = small(tmp_path / "d")
    plan = setup.cli("plan", str(infra), check=True)
    assert "plan for small (a new infrastructure): 3 to create, 0 to drop" in plan.stdout
    build = setup.cli("build", str(infra), check=True)
    assert "2/2 ready" in build.stdout or "ready" in build.stdout
    infra_id = build.stdout.strip().splitlines()[-1].split()[2]
    assert build.stdout.strip().endswith(f"infrastructure id: {infra_id} (ready)")
    listed = json.loads(setup.cli("list", "--json", check=True).stdout)
    assert [(i["infra_id"], i["status"], i["ready"]) for i in listed] == [(infra_id, "ready", 3)]
    status = json.loads(setup.cli("status", "-i", infra_id, "--json", check=True).stdout)
    web = next(n for n in status["nodes"] if n["name"] == "web")
    assert web["scaling"] == {"actual": 2, "target": 2, "min": 2, "max": 3}
    table = setup.cli("status", "-i", infra_id, check=True).stdout
    assert "NODE" in table and "ADDRESSES" in table and table.count("ready") >= 3
    scaled = setup.cli("scale", "-i", infra_id, "-n", "web", "-c", "+5")
    assert scaled.returncode == 0
    assert "clamped to 3 (min 2, max 3)" in scaled.stderr
    events = json.loads(setup.cli("events", "-i", infra_id, "--json", check=True).stdout)
    kinds = [e["type"] for e in events]
    assert "scaling.clamped" in kinds and kinds.count("node.ready") == 4
    later = setup.cli("events", "-i", infra_id, "--after", str(events[-2]["position"]),
                      "--json", check=True)
    assert len(json.loads(later.stdout)) == 1
    gone = setup.cli("destroy", "-i", infra_id, check=True)
    assert "destroyed, 4 node(s) dropped" in gone.stdout
    assert setup.cli("list", check=True).stdout == "no infrastructures\n"


def test_config_show_redacts_secrets(setup):
    setup.write_config(transport={"url": "amqp://occo:s3cr3t-pw@broker:5672/%2F"},
                       store={"backend": "redis", "url": "redis://:hunter22@127.0.0.1:6379/0"})
    shown = setup.cli("config", "show", check=True).stdout
    assert "s3cr3t-pw" not in shown and "hunter22" not in shown
    assert "amqp://occo:***@broker" in shown
    data = yaml.safe_load(shown.split("\n", 1)[1])
    assert data["rest"]["host"] == "127.0.0.1" and data["processing"]["max_attempts"] == 3


def test_config_show_prints_each_clouds_limits_and_who_set_them(setup):
    from occo.cloudhandler.dummy import DummyCloudHandler
    from occo.cloudhandler.ec2 import EC2CloudHandler

    setup.write_config(processing={"batch_size": 32},
                       clouds={"dummy": {"limits": {"max_parallel": 7}, "endpoints": {
                           "dummy:lab": {"limits": {"rate": 3}}}}})
    data = yaml.safe_load(setup.cli("config", "show", check=True).stdout.split("\n", 1)[1])
    limits = data["limits"]
    # the backend's own defaults where nothing is set
    # (the set-up's processing: section sets rate, poll_interval and first_poll)
    assert limits["ec2"]["burst"] == EC2CloudHandler.limits.burst == 500
    assert limits["dummy"]["max_parallel"] != DummyCloudHandler.limits.max_parallel
    assert limits["local"]["max_parallel"] == 64
    assert limits["ec2"]["rate"] == 0 and limits["ec2"]["set_by"]["rate"] == "processing"
    # processing: over every cloud, clouds.<type>.limits over that, an endpoint over both
    assert limits["ec2"]["batch_size"] == 32 and limits["dummy"]["batch_size"] == 32
    assert limits["dummy"]["max_parallel"] == 7
    assert limits["dummy"]["set_by"]["max_parallel"] == "clouds.dummy.limits"
    assert limits["dummy"]["set_by"]["batch_size"] == "processing"
    assert "set_by" not in limits["local"] or "max_parallel" not in limits["local"]["set_by"]
    lab = limits["dummy"]["endpoints"]["dummy:lab"]
    assert (lab["rate"], lab["max_parallel"], lab["batch_size"]) == (3, 7, 32)
    # the backend's section keeps its own settings, not the limits
    assert data["clouds"]["dummy"]["limits"] == {"max_parallel": 7}


def test_bad_cloud_limits_are_located(setup):
    setup.config_file.write_text("clouds:\n  dummy:\n    limits: {rat: 3}\n"
                                 "  ec2:\n    endpoints:\n      x: {limits: {rate: -2}}\n")
    proc = setup.cli("list")
    assert proc.returncode == 2, proc.stderr
    assert "occo.yaml:3:13: unknown key 'rat' in clouds.dummy.limits (did you mean " \
           "'rate'?)" in proc.stderr
    assert "occo.yaml:6:10: clouds.ec2.endpoints.x.limits.rate must be a number >= 0, " \
           "got -2" in proc.stderr


def test_a_bad_configuration_is_located(setup, tmp_path):
    setup.config_file.write_text("processing:\n  max_paralel: 3\nrest: {port: many}\n")
    proc = setup.cli("list")
    assert proc.returncode == 2
    assert "occo.yaml:2:3: processing.max_paralel: unknown key 'max_paralel'" in proc.stderr
    assert "did you mean 'max_parallel'?" in proc.stderr
    assert "rest.port: must be an integer >= 0, got 'many'" in proc.stderr


def test_worker_without_the_amqp_transport_says_what_to_do(setup):
    proc = setup.cli("worker", "cloudhandler")
    assert proc.returncode == 2
    assert "occo worker serves an endpoint over the amqp transport" in proc.stderr


def test_interrupting_a_build_rolls_it_back_and_exits_130(setup, tmp_path):
    # db never passes its health check (nothing listens on its port 9), so web, which
    # waits for db, cannot have started when the interrupt comes, however slow the machine
    never_ready = local_definition("exec sleep 600", health_check={"ping": False, "ports": [9]})
    slow = local_definition("sleep 1; exec sleep 600", health_check={"ping": False})
    infra = write_description(tmp_path / "d", "slow", {
        "db": {"type": "db_t"}, "web": {"type": "t", "scaling": {"min": 3, "max": 3}}},
        [("web", "db")], {"db_t": [never_ready], "t": [slow]})
    proc = setup.spawn("build", str(infra))
    store = SQLiteStore(setup.state)
    try:
        def started():
            infras = store.list_infrastructures()
            return infras and any(e.type == "node.creating" for e in
                                  store.read_events(infras[0].infra_id, after=0))
        wait_until(started, timeout=60, what="the build to start")
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "interrupted: starting nothing new, rolling back" in err
        infra_id = store.list_infrastructures()[0].infra_id
        assert store.list_instances(infra_id) == []
        kinds = [e.type for e in store.read_events(infra_id, after=0)]
        assert "infra.cancelling" in kinds and "infra.cancelled" in kinds
        assert not any(e.type == "node.creating" and e.node_name == "web"
                       for e in store.read_events(infra_id, after=0)), "web never started"
    finally:
        store.close()
        if proc.poll() is None:
            proc.kill()
