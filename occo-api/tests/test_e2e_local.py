"""Build, heal and destroy real local processes: addresses from getip, health checks on
ports and URLs, a killed node replaced, nothing left running afterwards."""

from __future__ import annotations

import os
import signal
import urllib.request

import pytest
from e2e import Setup, cloud_nodes, local_definition, write_description

from occo.util.testing import wait_until

SERVE = "exec \"$OCCO_PYTHON\" -m http.server {port} --bind \"$OCCO_NODE_IP\""


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


def webapp(directory, web_min=2):
    db = local_definition(SERVE.format(port=8080),
                          resource={"files": {"index.html": "data from {{ node_id }}\n"}},
                          health_check={"ping": False, "ports": [8080],
                                        "urls": ["http://{{ ip }}:8080/index.html"]})
    web = local_definition(SERVE.format(port=8081),
                           resource={"files": {"index.html": "page built with data at "
                                                             "{{ getip('db') }}:8080\n"}},
                           health_check={"ping": False, "ports": [8081]})
    return write_description(directory, "webapp", {
        "db": {"type": "db_t"},
        "web": {"type": "web_t", "scaling": {"min": web_min, "max": 4}}},
        [("web", "db")], {"db_t": [db], "web_t": [web]})


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def node_pid(setup: Setup, infra_id: str, instance_id: str) -> int:
    import json
    child = setup.local_root / infra_id / instance_id / "child.json"
    return json.loads(child.read_text())["pid"]


def test_webapp_on_local_processes(setup, tmp_path):
    with setup.occo() as occo:
        result = occo.build(webapp(tmp_path / "d"))
        assert result["status"] == "ready", result
        infra_id = result["infra_id"]
        db = occo.store.list_instances(infra_id, "db")[0]
        webs = occo.store.list_instances(infra_id, "web")
        assert len(webs) == 2
        addresses = {r.addresses[0] for r in [db, *webs]}
        assert len(addresses) == 3 and all(a.startswith("127.") for a in addresses)
        assert fetch(f"http://{db.addresses[0]}:8080/index.html") == \
            f"data from {db.instance_id}\n"
        for web in webs:  # getip('db') was rendered into every web node
            assert fetch(f"http://{web.addresses[0]}:8081/index.html") == \
                f"page built with data at {db.addresses[0]}:8080\n"

        # heal: kill one web node's process; maintenance replaces it
        victim = webs[0]
        os.kill(node_pid(setup, infra_id, victim.instance_id), signal.SIGKILL)
        outcome = wait_until(lambda: (lambda o: o if o["created"] else None)(
            occo.maintain_once(infra_id)), timeout=60, interval=0.2, what="the replacement")
        assert outcome["status"] == "ready" and outcome["created"] == 1
        now = occo.store.list_instances(infra_id, "web")
        assert victim.instance_id not in {r.instance_id for r in now} and len(now) == 2
        fresh = [r for r in now if r.instance_id != webs[1].instance_id][0]
        assert fetch(f"http://{fresh.addresses[0]}:8081/index.html").startswith("page built")
        events = occo.events(infra_id)
        failed = [e for e in events if e["type"] == "node.failed"
                  and e["instance_id"] == victim.instance_id]
        assert failed and "killed by SIGKILL" in failed[0]["details"]["reason"]

        pids = [node_pid(setup, infra_id, r.instance_id)
                for r in occo.store.list_instances(infra_id)]
        description = occo.store.get_infrastructure(infra_id).description
        assert occo.destroy(infra_id)["status"] == "destroyed"
        assert not any(pid_alive(p) for p in pids), "every node process is gone"
        assert cloud_nodes(setup, description, infra_id) == []


def test_a_node_that_exits_at_once_fails_the_build_with_its_log(setup, tmp_path):
    bad = local_definition("echo 'cannot open config file' >&2; exit 3",
                           health_check={"ping": False})
    infra = write_description(tmp_path / "d", "broken", {"app": {"type": "app_t"}}, [],
                              {"app_t": [bad]})
    setup.write_config(processing={"max_attempts": 2})
    with setup.occo() as occo:
        result = occo.build(infra)
        assert result["status"] == "failed"
        reason = result["failures"][0]["reason"]
        assert "exit" in reason and "3" in reason and "cannot open config file" in reason
        assert occo.store.list_instances(result["infra_id"]) == [], "rolled back"
