"""The webapp example changed under load (issue 24): its web nodes' definition changes,
and `occo build` replaces them one at a time behind the load balancer while a client
sends requests through it without pause. No request may fail, the balancer and the data
service stay (only the web nodes' definition changed), and every web node in the end is
of the new definition. The count of requests and the rollout's time are printed."""

from __future__ import annotations

import re
import shutil
import threading
import time

import pytest
import yaml

from occo.api import Occo
from occo.api.config import load_config
from occo.demo._node import http_request
from occo.demo.workspace import Workspace, example_dir

# real processes, a build and a rollout: the full run only
pytestmark = pytest.mark.slow


class Client:
    """GETs through the balancer, one after the other, counting answers and failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = self.failed = 0
        self.backends: set[str] = set()
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sent += 1
            try:
                answer = http_request("GET", self.url, timeout=5)
                if answer.status != 200:
                    raise OSError(f"HTTP {answer.status}")
                self.backends.add(answer.headers.get("x-occo-backend", "?"))
            except OSError as exc:
                self.failed += 1
                self.errors.append(str(exc))


def changed_copy(tmp_path):
    """The webapp example with one more environment variable on its web nodes."""
    source = example_dir("webapp")
    first, second = tmp_path / "v1", tmp_path / "v2"
    shutil.copytree(source, first)
    shutil.copytree(source, second)
    defs_file = second / "node_definitions.yaml"
    defs = yaml.safe_load(defs_file.read_text())
    defs["node_def:demo_web"][0]["resource"]["env"]["DEMO_RELEASE"] = "2"
    defs_file.write_text(yaml.safe_dump(defs, sort_keys=False))
    return first / "infra.yaml", second / "infra.yaml", second / "node_definitions.yaml", \
        first / "node_definitions.yaml"


def test_web_nodes_are_replaced_behind_the_balancer_with_no_failed_request(
        tmp_path, demo_env, monkeypatch, capsys):
    for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(key, demo_env[key])
    workspace = Workspace(tmp_path / "demo")
    workspace.prepare()
    old, new, new_defs, old_defs = changed_copy(tmp_path)
    occo = Occo(load_config(workspace.config_path))
    infra_id = None
    try:
        built = occo.build(old, [old_defs])
        infra_id = built["infra_id"]
        assert built["status"] == "ready", built
        [lb] = occo.store.list_instances(infra_id, "lb")
        [data] = occo.store.list_instances(infra_id, "data")
        old_web = {r.instance_id for r in occo.store.list_instances(infra_id, "web")}
        assert len(old_web) == 2
        client = Client(f"http://{lb.addresses[0]}:8000/")
        client.thread.start()
        time.sleep(1.0)                       # serving before the change
        before = client.sent
        started = time.monotonic()
        out = occo.build(new, [new_defs])
        seconds = time.monotonic() - started
        time.sleep(1.0)                       # and after it
        client.stop.set()
        client.thread.join(10)
        assert out["status"] == "ready" and out["outdated"] == 0, out
        assert out["created"] == 2 and out["dropped"] == 2, out
        web = occo.store.list_instances(infra_id, "web")
        assert len(web) == 2 and not {r.instance_id for r in web} & old_web
        assert all(r.implementation["resource"]["env"]["DEMO_RELEASE"] == "2" for r in web)
        assert [r.instance_id for r in occo.store.list_instances(infra_id, "lb")] \
            == [lb.instance_id]
        assert [r.instance_id for r in occo.store.list_instances(infra_id, "data")] \
            == [data.instance_id]
        with capsys.disabled():
            print(f"\nrollout of 2 web nodes: {seconds:.1f} s, {client.sent} requests "
                  f"({client.sent - before} during and after it), {client.failed} failed, "
                  f"served by {len(client.backends)} web nodes")
        assert client.sent > before > 0
        assert client.failed == 0, client.errors[:5]
        # requests reached the new web nodes too, through the same balancer
        new_addresses = {a for r in web for a in r.addresses}
        assert any(re.search(re.escape(a), b) for a in new_addresses
                   for b in client.backends), (client.backends, new_addresses)
    finally:
        if infra_id is not None:
            occo.destroy(infra_id)
        occo.close()
