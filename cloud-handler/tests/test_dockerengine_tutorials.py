"""Occopus-format docker infrastructures on a real Docker engine.

OCCO's own corpus (occo.util.testing: ``relay-docker``) always, and the Occopus docker
tutorials (docker-helloworld, docker-ping) when ``OCCO_TUTORIALS`` names them (else those
tests skip, with the reason). The infrastructure descriptions and node definitions are
read unchanged; only their resource sections are pointed at the test engine:
``endpoint``, ``origin`` (the image tarball, built locally as a busybox root filesystem
with the scripts the definitions run, tests/dockerenv.py IMAGES, since nothing can be
downloaded here), a ``tag`` of this test run, and the test's bridge network. Each node
goes through ``CloudHandlerService`` with the NodeSpec the service composer makes from a
``docker`` contextualisation: ``{"type": "docker", "env": [...], "command": ...}``. The
templates in ``env`` are the files' own; the service composer (not a dependency of this
package) renders them with Jinja2, so here :func:`render` fills in the exact expressions
the files use and fails on any other.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.contract import make_spec
from occo.util import load_yaml_file, new_id
from occo.util.testing import CORPUS, tutorials, tutorials_missing, wait_until

TUTORIALS = tutorials()
TIMEOUT = 30.0
#: The endpoint each corpus's docker resources name, which the tests replace.
CORPUS_ENDPOINT = "tcp://docker.corpus.example:2375"
TUTORIAL_ENDPOINT = "replace_with_your_docker_endpoint"

needs_tutorials = pytest.mark.skipif(TUTORIALS is None, reason=str(tutorials_missing()))


def render(text: str, values: dict[str, str]) -> str:
    """``{{ expr }}`` replaced by ``values[expr]``; an expression not given fails."""
    def one(match: re.Match) -> str:
        expr = match.group(1).strip()
        assert expr in values, f"the test does not know the template expression {expr!r}"
        return values[expr]
    return re.sub(r"\{\{(.*?)\}\}", one, text)


def load(root: Path, name: str) -> tuple[dict, dict]:
    (infra_file,) = root.glob(f"{name}/infra*.yaml")
    infra = load_yaml_file(infra_file)
    definitions = load_yaml_file(root / name / "nodes" / "node_definitions.yaml")
    return infra, definitions


def node_spec(engine, definitions: dict, node: dict, infra_id: str, values: dict[str, str],
              *, endpoint: str, instance_id: str | None = None) -> dict:
    """The spec of one node, its resource (which names ``endpoint``) pointed at the test
    engine."""
    [impl] = definitions[f"node_def:{node['type']}"]
    written = impl["resource"]
    assert written["type"] == "docker" and written["endpoint"] == endpoint
    tarball = engine.tarballs[written["image"]]
    resource = {**written, "endpoint": engine.endpoint, "origin": f"file://{tarball}",
                "tag": engine.tag, "network": engine.network}
    context = impl["contextualisation"]
    assert context["type"] == "docker"
    spec = make_spec(resource, infra_id=infra_id, node=node["name"], instance_id=instance_id,
                     context={"type": "docker",
                              "env": [render(e, values) for e in context["env"]],
                              "command": context["command"]})
    spec["node_type"] = node["type"]
    return spec


def wait_running(service: CloudHandlerService, refs: list[dict]) -> None:
    def check():
        states = service.get_states(refs)
        bad = [s for s in states.values() if s["state"] == "failed"]
        assert not bad, bad
        return all(s["state"] == "running" for s in states.values())
    wait_until(check, timeout=TIMEOUT, what="the infrastructure's nodes running")


def log_of(engine, ref: dict) -> str:
    return engine.client.logs(ref["resource_id"]).decode("utf-8", "replace")


@pytest.fixture
def fresh_images(docker_engine):
    """The test images are not on the engine yet: the file origin is what loads them."""
    for name in docker_engine.tarballs:
        for item in docker_engine.client.images(name=f"{name}:{docker_engine.tag}"):
            docker_engine.client.remove_image(item["Id"], force=True)
    return docker_engine


# -- OCCO's own corpus -------------------------------------------------------------------

def test_corpus_relay_the_listener_hears_the_beacon(fresh_images):
    engine = fresh_images
    infra, definitions = load(CORPUS, "relay-docker")
    nodes = {n["name"]: n for n in infra["nodes"]}
    [edge] = infra["dependencies"]
    assert [n["name"] for n in edge] == ["listener", "beacon"]   # the listener needs it
    service = CloudHandlerService({"docker": {"stop_timeout": 5}})
    infra_id = new_id()
    beacon_node, listener_node = nodes["beacon"], nodes["listener"]
    announcement = beacon_node["variables"]["announcement"]
    assert announcement == "The corpus beacon is lit."
    beacon_id = new_id()
    beacon_spec = node_spec(engine, definitions, beacon_node, infra_id,
                            {"variables.announcement": announcement, "node_id": beacon_id},
                            endpoint=CORPUS_ENDPOINT, instance_id=beacon_id)
    assert beacon_spec["context"]["env"] == [f"ANNOUNCEMENT={announcement}",
                                             f"BEACON_ID={beacon_id}"]
    assert beacon_spec["context"]["command"] == ["/bin/sh", "/opt/relay/beacon.sh"]
    beacon = service.create_node(beacon_spec)
    refs = [beacon]
    try:
        wait_running(service, [beacon])
        assert engine.client.inspect_image(f"occo_relay_beacon:{engine.tag}")
        wait_until(lambda: f"{announcement} ({beacon_id})" in log_of(engine, beacon),
                   timeout=TIMEOUT, what="the beacon's announcement in its log")
        found = service.get_addresses([beacon])[beacon["instance_id"]]
        assert found["checkable"] is True
        [ip] = found["addresses"]
        rounds = str(listener_node["variables"]["rounds"])
        listener_spec = node_spec(engine, definitions, listener_node, infra_id,
                                  {"getip('beacon')": ip, "variables.rounds": rounds},
                                  endpoint=CORPUS_ENDPOINT)
        assert listener_spec["context"]["env"] == [f"BEACON_ADDRESS={ip}", "ROUNDS=3"]
        listener = service.create_node(listener_spec)
        refs.append(listener)
        wait_running(service, refs)
        wait_until(lambda: "heard the beacon 3 times" in log_of(engine, listener),
                   timeout=TIMEOUT, what=f"the listener's {rounds} ping replies from {ip}")
        log = log_of(engine, listener)
        assert log.startswith(f"listening for {ip}\n") and f"64 bytes from {ip}" in log
        listed = service.list_nodes(infra_id, [listener_spec["resource"]])
        assert sorted(r["node_name"] for r in listed) == ["beacon", "listener"]
    finally:
        assert service.drop_nodes(refs) == [{}] * len(refs)
        service.close()


# -- the Occopus tutorials (optional) ----------------------------------------------------

@needs_tutorials
def test_docker_helloworld(fresh_images):
    engine = fresh_images
    infra, definitions = load(TUTORIALS, "docker-helloworld")
    [node] = infra["nodes"]
    message = node["variables"]["message"]
    assert message == "Hello World! I have been created by Occopus."
    service = CloudHandlerService({"docker": {"stop_timeout": 5}})
    infra_id = new_id()
    spec = node_spec(engine, definitions, node, infra_id, {"variables.message": message},
                     endpoint=TUTORIAL_ENDPOINT)
    assert spec["context"]["env"] == [f"message={message}"]
    [result] = service.create_nodes([spec])
    ref = result["ref"]
    wait_running(service, [ref])
    assert engine.client.inspect_image(f"busybox_helloworld:{engine.tag}")
    wait_until(lambda: message in log_of(engine, ref), timeout=TIMEOUT,
               what="the helloworld node's message in its log")
    [listed] = service.list_nodes(infra_id, [spec["resource"]])
    assert listed["node_name"] == "helloworld"
    assert service.drop_nodes([ref]) == [{}]
    assert service.list_nodes(infra_id, [spec["resource"]]) == []
    service.close()


@needs_tutorials
def test_docker_ping_the_sender_reaches_the_receiver(fresh_images):
    engine = fresh_images
    infra, definitions = load(TUTORIALS, "docker-ping")
    nodes = {n["name"]: n for n in infra["nodes"]}
    [edge] = infra["dependencies"]
    assert [n["name"] for n in edge] == ["ping-sender", "ping-receiver"]   # sender needs it
    service = CloudHandlerService({"docker": {"stop_timeout": 5}})
    infra_id = new_id()
    receiver_node = nodes["ping-receiver"]
    message = receiver_node["variables"]["message"]
    receiver = service.create_node(node_spec(engine, definitions, receiver_node, infra_id,
                                             {"variables.message": message},
                                             endpoint=TUTORIAL_ENDPOINT))
    refs = [receiver]
    try:
        wait_running(service, [receiver])
        found = service.get_addresses([receiver])[receiver["instance_id"]]
        assert found["checkable"] is True
        [ip] = found["addresses"]
        sender_spec = node_spec(engine, definitions, nodes["ping-sender"], infra_id,
                                {"getip('ping-receiver')": ip}, endpoint=TUTORIAL_ENDPOINT)
        assert sender_spec["context"]["env"] == [f"target_ip={ip}"]
        sender = service.create_node(sender_spec)
        refs.append(sender)
        wait_running(service, refs)
        wait_until(lambda: f"64 bytes from {ip}" in log_of(engine, sender), timeout=TIMEOUT,
                   what=f"the sender's ping replies from {ip}")
        assert log_of(engine, sender).startswith(f"pinging {ip}\n")
        assert message in log_of(engine, receiver)
        listed = service.list_nodes(infra_id, [sender_spec["resource"]])
        assert sorted(r["node_name"] for r in listed) == ["ping-receiver", "ping-sender"]
    finally:
        assert service.drop_nodes(refs) == [{}] * len(refs)
        service.close()
