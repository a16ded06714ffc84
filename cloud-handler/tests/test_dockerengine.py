"""The docker backend against a real Docker engine (tests/dockerenv.py): the contract
suite, names and labels, batching, image origins, networks, and faults (engine
unreachable, image missing, a container that exits at once, a name clash, bad input)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler._dockerapi import operation
from occo.cloudhandler._dockerimages import Origin, parse_origin
from occo.cloudhandler.contract import CloudHandlerContract, make_spec
from occo.cloudhandler.dockerengine import DockerCloudHandler
from occo.util import InputError, new_id, parse_credentials
from occo.util.testing import free_port, wait_until

TIMEOUT = 30.0


def docker_service(**config) -> CloudHandlerService:
    return CloudHandlerService({"docker": {"stop_timeout": 5, **config}})


@pytest.fixture
def service():
    svc = docker_service()
    yield svc
    svc.close()


@pytest.fixture
def engine(docker_engine):
    return docker_engine


def handler_of(service: CloudHandlerService, resource: dict) -> DockerCloudHandler:
    handler = service.handler_for(resource)
    assert isinstance(handler, DockerCloudHandler)
    return handler


def containers_named(engine, name: str) -> list[dict]:
    return [c for c in engine.client.containers(all=True, filters={"name": [name]})
            if f"/{name}" in c["Names"]]


def wait_state(service, refs, wanted, timeout=TIMEOUT) -> dict:
    def check():
        states = service.get_states(refs)
        return states if all(states[r["instance_id"]]["state"] in wanted for r in refs) \
            else None
    return wait_until(check, timeout=timeout, what=f"states {sorted(wanted)}")


class TestDockerContract(CloudHandlerContract):
    """A real Docker engine, judged by the contract suite."""

    timeout = TIMEOUT

    @pytest.fixture
    def service(self, service):
        return service

    @pytest.fixture
    def resource(self, engine):
        return engine.resource()

    @pytest.fixture
    def bad_image_resource(self, engine):
        return engine.resource(image="occo-test/no-such-image")


# ------------------------------------------------------------------- without an engine

def test_endpoint_forms_and_keys():
    assert DockerCloudHandler.endpoint_key({"endpoint": "unix:///var/run/docker.sock"}) == \
        "docker:unix:///var/run/docker.sock"
    for good in ("unix:///var/run/docker.sock", "unix://var/run/docker.sock",
                 "tcp://127.0.0.1:2375", "https://docker.example.org:2376"):
        DockerCloudHandler({"type": "docker", "endpoint": good})
    svc = docker_service()
    res = {"type": "docker", "endpoint": "replace_with_your_docker_endpoint",
           "origin": "local", "image": "x", "tag": "1"}
    [result] = svc.create_nodes([make_spec(res, infra_id=new_id(), node="web")])
    assert result["error"]["type"] == "BadResource" and result["error"]["exit_code"] == 2
    assert result["error"]["text"] == (
        "node 'web': resource.endpoint 'replace_with_your_docker_endpoint' is not a Docker "
        "endpoint: use unix:///var/run/docker.sock, tcp://host:2375, http://host:port or "
        "https://host:2376")
    ref = {"instance_id": new_id(), "infra_id": "i", "resource": res, "lookup": True}
    [dropped] = svc.drop_nodes([ref])
    assert dropped["error"]["type"] == "BadResource" and dropped["error"]["retryable"] is False
    assert svc.get_states([ref])[ref["instance_id"]]["state"] == "unknown"


def test_origin_forms():
    assert parse_origin("dockerhub") == Origin("dockerhub", text="dockerhub")
    assert parse_origin("DockerHub").kind == "dockerhub"
    assert parse_origin("local") == Origin("local", text="local")
    assert parse_origin("file:///srv/img.tar") == Origin("file", "/srv/img.tar",
                                                         "file:///srv/img.tar")
    assert parse_origin("file://localhost/srv/a%20b.tar").location == "/srv/a b.tar"
    assert parse_origin("https://s3.example.org/docker/busybox_ping.tar").kind == "http"
    with pytest.raises(ValueError, match=r"resource.origin 'file://img.tar': a file URL needs "
                                         r"an absolute path, as in file:///srv/images/app.tar"):
        parse_origin("file://img.tar")
    with pytest.raises(ValueError, match=r"resource.origin 'ftp://x/y.tar' is not an origin "
                                         r"OCCO knows: use dockerhub \(pull\), local"):
        parse_origin("ftp://x/y.tar")


def test_engine_requests_are_counted_byoperation():
    assert operation("GET", "http+docker://localhost/v1.41/containers/json?all=1") == \
        "GET /containers/json"
    assert operation("POST", "http+docker://localhost/v1.41/containers/abc/start") == \
        "POST /containers/{id}/start"
    assert operation("DELETE", "http+docker://localhost/v1.41/containers/abc?v=1") == \
        "DELETE /containers/{id}"
    assert operation("GET", "http+docker://localhost/v1.41/images/occo-test/bb:1/json") == \
        "GET /images/{id}/json"
    assert operation("GET", "http+docker://localhost/version") == "GET /version"


@pytest.mark.parametrize("endpoint", ["unix:///nonexistent/occo/docker.sock", "tcp"])
def test_an_unreachable_engine_is_a_clear_retryable_error(endpoint):
    if endpoint == "tcp":
        endpoint = f"tcp://127.0.0.1:{free_port()}"   # nothing listens there
    svc = docker_service()
    res = {"type": "docker", "endpoint": endpoint, "origin": "local", "image": "x",
           "tag": "1"}
    [result] = svc.create_nodes([make_spec(res, infra_id=new_id(), node="web")])
    error = result["error"]
    assert error["type"] == "CloudUnavailable" and error["retryable"] is True
    assert error["text"].startswith("node 'web' (")
    assert f"the Docker engine at {endpoint} is unreachable (connect)" in error["text"]
    ref = {"instance_id": new_id(), "infra_id": "i", "resource": res, "lookup": True}
    status = svc.get_states([ref])[ref["instance_id"]]
    assert status["state"] == "unknown"
    assert f"the Docker engine at {endpoint} is unreachable" in status["detail"]
    [dropped] = svc.drop_nodes([ref])
    assert dropped["error"]["retryable"] is True
    assert svc.get_addresses([ref]) == {}


def test_credentials_are_optional_but_used_when_one_entry_matches():
    res = {"type": "docker", "endpoint": "unix:///var/run/docker.sock", "origin": "dockerhub",
           "image": "registry.example.org/team/app", "tag": "1"}
    plain = docker_service()
    assert handler_of(plain, res).auth is None
    creds = parse_credentials({"resource": [
        {"type": "docker", "image": "registry.example.org/team/app",
         "auth_data": {"username": "robot", "password": "registry-secret"}}]},
        source="auth.yaml")
    svc = CloudHandlerService({}, creds)
    assert handler_of(svc, res).auth.auth_data["username"] == "robot"
    assert handler_of(svc, {**res, "image": "other"}).auth is None
    two = parse_credentials({"resource": [
        {"type": "docker", "auth_data": {"username": "a", "password": "pa-secret"}},
        {"type": "docker", "auth_data": {"username": "b", "password": "pb-secret"}}]},
        source="auth.yaml")
    with pytest.raises(InputError, match="2 credential entries match its resource section"):
        CloudHandlerService({}, two).handler_for(res, node="web")


# ------------------------------------------------------------------- with an engine

def test_the_container_is_named_labelled_and_runs_the_context(engine, service):
    infra = new_id()
    res = engine.resource(tags={"team": "web"})
    spec = make_spec(res, infra_id=infra, node="hello", tags={"cost": "low"},
                     context={"type": "docker", "env": ["message=Hello World!", "EMPTY="],
                              "command": "sh -c 'echo \"$message\"; exec sleep 1000'"})
    ref = service.create_node(spec)
    wait_state(service, [ref], {"running"})
    info = engine.client.inspect_container(ref["resource_id"])
    assert info["Name"] == f"/occo-{spec['instance_id']}" == "/" + ref["name"]
    assert info["Config"]["Labels"] == {"team": "web", "cost": "low", "occo:infra_id": infra,
                                        "occo:node": "hello",
                                        "occo:instance_id": spec["instance_id"]}
    env = info["Config"]["Env"]
    assert "message=Hello World!" in env and "EMPTY=" in env
    assert f"OCCO_INSTANCE_ID={spec['instance_id']}" in env and "OCCO_NODE_NAME=hello" in env
    assert info["Config"]["Cmd"] == ["sh", "-c", 'echo "$message"; exec sleep 1000']
    assert info["HostConfig"]["NetworkMode"] == engine.network and info["HostConfig"]["Init"]
    wait_until(lambda: b"Hello World!" in engine.client.logs(ref["resource_id"]),
               timeout=TIMEOUT, what="the message in the log")
    address = service.get_addresses([ref])[ref["instance_id"]]
    ip = info["NetworkSettings"]["Networks"][engine.network]["IPAddress"]
    assert address == {"addresses": [ip], "private_addresses": [ip], "checkable": True}
    assert service.drop_node(ref) == {}
    assert containers_named(engine, ref["name"]) == []


def test_a_new_orchestrator_finds_the_same_container(engine, service):
    spec = make_spec(engine.resource(), infra_id=new_id())
    first = service.create_node(spec)
    fresh = docker_service()
    again = fresh.create_node(spec)   # no memory of the first: found by its name
    assert again["resource_id"] == first["resource_id"]
    assert len(containers_named(engine, first["name"])) == 1
    fresh.drop_node(again)
    fresh.close()


def test_states_are_one_list_call_per_round_and_drop_is_stop_then_remove(engine, service):
    res = engine.resource()
    handler = handler_of(service, res)
    infra = new_id()
    service.create_nodes([make_spec(res, infra_id=infra)])   # image checked, client made
    handler.calls.clear()
    results = service.create_nodes([make_spec(res, infra_id=infra, node=f"n{i}")
                                    for i in range(6)])
    refs = [r["ref"] for r in results]
    assert dict(handler.calls) == {"POST /containers/create": 6,
                                   "POST /containers/{id}/start": 6}
    handler.calls.clear()
    wait_state(service, refs, {"running"})
    rounds = handler.calls["GET /containers/json"]
    assert dict(handler.calls) == {"GET /containers/json": rounds}
    handler.calls.clear()
    addresses = service.get_addresses(refs)   # answered from the last poll
    assert handler.calls == {} and len({a["addresses"][0] for a in addresses.values()}) == 6
    assert service.drop_nodes(refs) == [{}] * 6
    assert dict(handler.calls) == {"GET /containers/json": 1,
                                   "POST /containers/{id}/stop": 6,
                                   "DELETE /containers/{id}": 6}
    states = service.get_states(refs)
    assert {s["state"] for s in states.values()} == {"missing"}


def test_a_container_that_exits_at_once_is_failed_with_its_exit_code_and_log(engine,
                                                                              service):
    script = "echo starting; for i in 1 2 3; do echo line $i; done; echo boom >&2; exit 3"
    spec = make_spec(engine.resource(), infra_id=new_id(), node="crash",
                     context={"type": "docker", "env": [], "command": ["sh", "-c", script]})
    ref = service.create_node(spec)
    status = wait_state(service, [ref], {"failed"})[ref["instance_id"]]
    assert status["exit_code"] == 3 and status["raw"] == "exited"
    head = f"container {ref['name']} is exited, exit code 3; last lines of its log:\n"
    assert status["detail"].startswith(head)
    # stdout and stderr are logged by separate copiers: their lines may interleave
    lines = status["detail"][len(head):].splitlines()
    assert sorted(lines) == ["boom", "line 1", "line 2", "line 3", "starting"]
    assert [x for x in lines if x != "boom"] == ["starting", "line 1", "line 2", "line 3"]
    assert service.get_addresses([ref]) == {}
    missing = make_spec(engine.resource(), infra_id=new_id(), node="nocmd",
                        context={"type": "docker", "command": "/no/such/program"})
    other = service.create_node(missing)
    status = wait_state(service, [other], {"failed"})[other["instance_id"]]
    assert status["exit_code"] == 127 and "/no/such/program" in status["detail"]
    assert service.drop_nodes([ref, other]) == [{}, {}]


def test_a_name_clash_with_a_foreign_container_is_refused_and_left_alone(engine, service):
    iid = new_id()
    foreign = engine.client.create_container(engine.base_image, name=f"occo-{iid}",
                                             labels={"owner": "someone else"})
    try:
        res = engine.resource()
        infra = new_id()
        [result] = service.create_nodes([make_spec(res, infra_id=infra, instance_id=iid,
                                                   node="db")])
        error = result["error"]
        assert error["type"] == "ResourceConflict" and error["retryable"] is False
        assert error["text"] == (
            f"node 'db' ({iid}): the Docker engine at {engine.endpoint} already has a "
            f"container named occo-{iid} ({foreign['Id'][:12]}, image {engine.base_image}) "
            "that OCCO did not create for this instance (it lacks the label "
            f"occo:instance_id={iid}); it is left alone: remove or rename it to let OCCO "
            "create the node")
        lookup = {"instance_id": iid, "infra_id": infra, "resource": res, "lookup": True}
        assert service.get_states([lookup])[iid]["state"] == "missing"
        assert service.drop_nodes([lookup]) == [{}]
        assert service.list_nodes(infra, [res]) == []
        info = engine.client.inspect_container(foreign["Id"])
        assert info["State"]["Status"] == "created"     # not started, not removed
        assert info["Config"]["Labels"] == {"owner": "someone else"}
    finally:
        engine.client.remove_container(foreign["Id"], force=True)


def assert_nothing_created(engine, service, spec: dict) -> None:
    assert containers_named(engine, f"occo-{spec['instance_id']}") == []
    assert service.list_nodes(spec["infra_id"], [spec["resource"]]) == []


def test_a_missing_image_is_a_clear_error_and_nothing_is_created(engine, service, tmp_path):
    cases = [
        (engine.resource(image="occo-test/absent", tag="1"), "ImageNotFound",
         f"the Docker engine at {engine.endpoint} has no image occo-test/absent:1 (origin "
         "local uses images already on the engine: load or pull it there first, or give "
         "origin dockerhub or a tarball URL)"),
        (engine.resource(image="occo-test/absent", origin=f"file://{tmp_path}/none.tar"),
         "ImageNotFound", f"origin file://{tmp_path}/none.tar: there is no file "
                          f"{tmp_path}/none.tar on the orchestrator's machine"),
    ]
    port = free_port()   # no registry listens there: the pull fails on loopback
    cases.append((engine.resource(image=f"127.0.0.1:{port}/occo/absent", origin="dockerhub"),
                  "CloudUnavailable",
                  f"the Docker engine at {engine.endpoint} could not pull "
                  f"127.0.0.1:{port}/occo/absent:{engine.tag}: "))
    for res, kind, text in cases:
        spec = make_spec(res, infra_id=new_id(), node="app")
        [result] = service.create_nodes([spec])
        assert result["error"]["type"] == kind, result
        assert text in result["error"]["text"]
        assert result["error"]["text"].startswith("node 'app' (")
        assert_nothing_created(engine, service, spec)
    assert "connection refused" in result["error"]["text"]


class TarballServer:
    """Serves a directory over HTTP on 127.0.0.1, counting requests."""

    def __init__(self, directory: Path) -> None:
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(directory), **kwargs)

            def log_message(self, *args):
                outer.paths.append(self.path)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_tarball_origins_are_imported_or_loaded_once(engine, service, tmp_path):
    """A root filesystem tarball is imported, a docker save archive loaded, from a file
    or over HTTP; the engine then has image:tag and nothing is sent again."""
    saved = tmp_path / "saved.tar"
    with open(saved, "wb") as out:
        for chunk in engine.client.get_image(engine.base_image):
            out.write(chunk)
    (tmp_path / "junk.tar").write_bytes(b"this is not a tar archive" * 40)
    shutil_copy = (tmp_path / "hello.tar")
    shutil_copy.write_bytes(engine.tarballs["busybox_helloworld"].read_bytes())
    web = TarballServer(tmp_path)
    infra = new_id()
    refs = []
    try:
        plan = [("occo-test/from-file", f"file://{engine.tarballs['busybox_helloworld']}",
                 "POST /images/create"),
                ("occo-test/from-save", f"file://{saved}", "POST /images/load"),
                ("occo-test/from-http", f"{web.url}/hello.tar", "POST /images/create")]
        for image, origin, call in plan:
            res = engine.resource(image=image, origin=origin)
            handler = handler_of(service, res)
            handler.calls.clear()
            context = {"type": "docker", "env": ["message=hi"], "command": "sh -c /root/start.sh"}
            if image == "occo-test/from-save":
                context = None   # the saved base image has its own CMD
            results = service.create_nodes([make_spec(res, infra_id=infra, node=f"n{i}",
                                                      context=context) for i in range(2)])
            refs += [r["ref"] for r in results]
            assert handler.calls[call] == 1, (image, dict(handler.calls))
            assert engine.client.inspect_image(f"{image}:{engine.tag}")["Id"]
        assert web.paths == ["/hello.tar"]
        wait_state(service, refs, {"running"})
        junk = engine.resource(image="occo-test/junk", origin=f"file://{tmp_path}/junk.tar")
        spec = make_spec(junk, infra_id=new_id(), node="junk")
        [result] = service.create_nodes([spec])
        assert result["error"]["type"] == "BadResource"
        assert f"origin file://{tmp_path}/junk.tar is not a readable tar archive" in \
            result["error"]["text"]
        gone = engine.resource(image="occo-test/gone", origin=f"{web.url}/missing.tar")
        [result] = service.create_nodes([make_spec(gone, infra_id=new_id(), node="gone")])
        assert result["error"]["type"] == "ImageNotFound"
        assert f"origin {web.url}/missing.tar: HTTP 404" in result["error"]["text"]
        assert_nothing_created(engine, service, spec)
    finally:
        web.close()
        service.drop_nodes(refs)


def test_networks_host_none_and_missing(engine, service):
    infra = new_id()
    host = service.create_node(make_spec(engine.resource(network="host"), infra_id=infra))
    isolated = engine.resource(network_mode="none")   # Occopus's name for the key
    del isolated["network"]
    none = service.create_node(make_spec(isolated, infra_id=infra, node="isolated"))
    wait_state(service, [host, none], {"running"})
    addresses = service.get_addresses([host, none])
    assert addresses == {host["instance_id"]: {"addresses": ["127.0.0.1"],
                                               "private_addresses": ["127.0.0.1"],
                                               "checkable": False}}
    spec = make_spec(engine.resource(network="occo-no-such-net"), infra_id=new_id(),
                     node="lost")
    [result] = service.create_nodes([spec])
    assert result["error"]["type"] == "BadResource"
    assert result["error"]["text"] == (
        f"node 'lost': resource.network 'occo-no-such-net': the Docker engine at "
        f"{engine.endpoint} has no such network; create it first (docker network create)")
    assert_nothing_created(engine, service, spec)
    assert service.drop_nodes([host, none]) == [{}, {}]


@pytest.mark.parametrize("change, message", [
    ({"context": {"type": "cloudinit", "user_data": "#cloud-config\n"}},
     "contextualisation type 'cloudinit' is for virtual machines; a container takes type "
     "'docker' (env, command)"),
    ({"context": {"type": "docker", "env": ["no equals sign"]}},
     "contextualisation env entry 'no equals sign' is not KEY=VALUE"),
    ({"context": {"type": "docker", "command": ""}},
     "contextualisation command must be a non-empty string or list of strings"),
    ({"resource": {"network": "a", "network_mode": "b"}},
     "resource.network 'a' and resource.network_mode 'b' differ; give one"),
    ({"resource": {"tags": {"occo:node": "x"}}}, "tag 'occo:node': the prefix occo: is "
                                                  "reserved"),
    ({"resource": {"origin": "file://relative.tar"}},
     "resource.origin 'file://relative.tar': a file URL needs an absolute path"),
    ({"resource": {"tag": " "}}, "resource.tag must be a non-empty string"),
    ({"resource": {"image": ["busybox"]}}, "resource.image: must be a string"),
])
def test_bad_input_names_the_node_and_the_key_and_calls_nothing(engine, service, change,
                                                                 message):
    res = {**engine.resource(), **change.get("resource", {})}
    handler = handler_of(service, engine.resource())
    handler.api()
    handler.calls.clear()
    spec = make_spec(res, infra_id=new_id(), node="bad", context=change.get("context"))
    [result] = service.create_nodes([spec])
    assert result["error"]["exit_code"] == 2, result
    assert result["error"]["text"].startswith("node 'bad")
    assert message in result["error"]["text"]
    with pytest.raises(InputError):
        service.create_node(spec)
    assert not any(k.startswith("POST") for k in handler.calls)
    assert_nothing_created(engine, service, spec)


def test_refs_are_json_and_list_nodes_refs_can_be_dropped(engine, service):
    infra = new_id()
    ref = service.create_node(make_spec(engine.resource(), infra_id=infra, node="w"))
    [listed] = service.list_nodes(infra, [engine.resource()])
    assert json.loads(json.dumps(listed)) == listed
    assert listed["resource_id"] == ref["resource_id"] and listed["name"] == ref["name"]
    assert listed["node_name"] == "w" and listed["resource"]["endpoint"] == engine.endpoint
    fresh = docker_service()
    assert fresh.drop_nodes([listed]) == [{}]
    assert service.list_nodes(infra, [engine.resource()]) == []
    fresh.close()

