"""``origin: dockerhub`` pulls from a real private registry (Debian's docker-registry on
127.0.0.1, TLS and htpasswd), with the login of the matching auth_data entry: the right
login pulls and the node runs; a wrong one is CredentialsRejected naming the entry; none
is PermissionDenied saying a login is wanted; no secret shows anywhere."""

from __future__ import annotations

import json

import dockerenv
import pytest

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.contract import make_spec
from occo.util import new_id, parse_credentials
from occo.util.testing import wait_until


@pytest.fixture(scope="module")
def registry(docker_engine):
    found = dockerenv.start_registry()
    if isinstance(found, str):
        pytest.skip(found)
    yield found
    found.stop()


@pytest.fixture(scope="module")
def pushed(docker_engine, registry):
    """The base image pushed to the registry as <registry>/occo/app, then untagged
    locally, so the engine can only get it by pulling."""
    client = docker_engine.client
    repo = f"{registry.address}/occo/app"
    client.tag(docker_engine.base_image, repo, docker_engine.tag)
    login = {"username": registry.username, "password": registry.password}
    for item in client.push(repo, tag=docker_engine.tag, auth_config=login, stream=True,
                            decode=True):
        assert "error" not in item, item
    client.remove_image(f"{repo}:{docker_engine.tag}")
    return repo


def credentials(engine, repo: str, username: str, password: str):
    return parse_credentials({"resource": [{"type": "docker", "image": repo, "auth_data": {
        "username": username, "password": password}}]}, source="test-auth_data.yaml")


def test_a_private_registry_image_is_pulled_with_the_matching_login(docker_engine, registry,
                                                                    pushed):
    engine = docker_engine
    res = engine.resource(image=pushed, origin="dockerhub")
    anonymous = CloudHandlerService({"docker": {"stop_timeout": 5}})
    [result] = anonymous.create_nodes([make_spec(res, infra_id=new_id(), node="app")])
    error = result["error"]
    assert error["type"] == "PermissionDenied" and error["retryable"] is False, error
    assert (f"the Docker engine at {engine.endpoint} could not pull {pushed}:{engine.tag}: "
            "the registry wants a login") in error["text"]
    assert "add an auth_data entry with username and password for this resource" in \
        error["text"]

    wrong = CloudHandlerService({}, credentials(engine, pushed, registry.username,
                                                "wrong-password-not-shown"))
    [result] = wrong.create_nodes([make_spec(res, infra_id=new_id(), node="app")])
    error = result["error"]
    assert error["type"] == "CredentialsRejected" and error["exit_code"] == 2, error
    assert (f"could not pull {pushed}:{engine.tag}: the registry refused the login of "
            f"auth_data entry resource[0] (type=docker, image={pushed}) at "
            "test-auth_data.yaml") in error["text"]
    assert "wrong-password-not-shown" not in json.dumps(result)
    assert engine.client.images(name=f"{pushed}:{engine.tag}") == []

    right = CloudHandlerService({"docker": {"stop_timeout": 5}},
                                credentials(engine, pushed, registry.username,
                                            registry.password))
    infra = new_id()
    ref = right.create_node(make_spec(res, infra_id=infra, node="app"))
    assert registry.password not in json.dumps(ref)
    wait_until(lambda: right.get_states([ref])[ref["instance_id"]]["state"] == "running",
               timeout=30, what="the pulled image's container running")
    assert engine.client.inspect_image(f"{pushed}:{engine.tag}")
    assert right.drop_nodes([ref]) == [{}]
    for service in (anonymous, wrong, right):
        service.close()
