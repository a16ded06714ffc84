"""The REST service over real HTTP on 127.0.0.1: the service runs in this process (waitress
in a thread, the dummy cloud in memory, SQLite state in tmp_path); every request goes
through a socket like any client's."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from rest_support import DESCRIPTION, Client, Setup, built

from occo.api.config import load_config
from occo.api.rest import RestService
from occo.api.rest_openapi import openapi_document
from occo.api.rest_state import import_definitions
from occo.enactor import lease_name
from occo.util import ConfigError
from occo.util.testing import wait_until


@pytest.fixture
def setup(tmp_path, monkeypatch) -> Setup:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    s = Setup(tmp_path)
    s.write()
    return s


class Running:
    """A started service, a client with the token, and one without."""

    def __init__(self, setup: Setup, **rest) -> None:
        if rest:
            setup.write(rest=rest)
        self.service = RestService(load_config(setup.config_file), port=0)
        import_definitions(self.service.occo, [setup.root / "nodes.yaml"])
        self.service.start()
        self.client = Client(self.service.port, self.service.token)
        self.anonymous = Client(self.service.port, None)

    def build(self, text: str = DESCRIPTION) -> str:
        status, body, _ = self.client.post("/infrastructures/", text)
        assert status == 202, body
        infra_id = body["infraid"]
        wait_until(lambda: built(self.client, infra_id), what="build finished")
        return infra_id

    def stop(self) -> None:
        self.client.close()
        self.anonymous.close()
        assert self.service.stop() == []


@pytest.fixture
def rest(setup):
    running = Running(setup)
    yield running
    running.stop()


# ---------------------------------------------------------------------- token

def test_health_needs_no_token_everything_else_does(rest):
    status, body, _ = rest.anonymous.get("/health")
    assert status == 200 and body["status"] == "ok"
    for method, path in [("GET", "/infrastructures/"), ("POST", "/infrastructures/"),
                         ("GET", "/openapi.json"), ("GET", "/infrastructures/x/events"),
                         ("DELETE", "/infrastructures/x")]:
        status, body, headers = rest.anonymous.request(method, path)
        assert status == 401, (method, path, body)
        assert "Authorization: Bearer <token>" in body["message"]
        assert headers["www-authenticate"].startswith("Bearer")
    wrong = Client(rest.service.port, "x" * 43)
    assert wrong.get("/infrastructures/")[0] == 401
    basic = Client(rest.service.port, None)
    status, _, _ = basic.get("/infrastructures/",
                             headers={"Authorization": f"Basic {rest.service.token}"})
    assert status == 401
    assert rest.client.get("/infrastructures/")[0] == 200
    for c in (wrong, basic):
        c.close()


def test_token_is_made_once_with_private_permissions(setup):
    first = RestService(load_config(setup.config_file), port=0)
    try:
        assert first.token_created and len(first.token) >= 32
        mode = stat.S_IMODE(setup.token_file.stat().st_mode)
        assert mode == 0o600
        assert stat.S_IMODE(setup.token_file.parent.stat().st_mode) == 0o700
        assert setup.token_file.read_text().strip() == first.token
    finally:
        first.stop()
    second = RestService(load_config(setup.config_file), port=0)
    try:
        assert not second.token_created and second.token == first.token
    finally:
        second.stop()


def test_token_file_others_can_read_is_refused(setup):
    setup.token_file.parent.mkdir(mode=0o700)
    setup.token_file.write_text("a-token-of-sufficient-length\n")
    setup.token_file.chmod(0o644)
    with pytest.raises(ConfigError) as exc:
        RestService(load_config(setup.config_file), port=0)
    text = str(exc.value)
    assert str(setup.token_file) in text and "mode 0644" in text
    assert f"chmod 600 {setup.token_file}" in text


def test_empty_token_file_is_refused(setup):
    setup.token_file.parent.mkdir(mode=0o700)
    setup.token_file.write_text("\n")
    setup.token_file.chmod(0o600)
    with pytest.raises(ConfigError, match="holds no usable token"):
        RestService(load_config(setup.config_file), port=0)


@pytest.mark.parametrize("make, said", [
    (lambda p: p.mkdir(parents=True), "the REST token file is a directory; point "
                                      "rest.token_file at a file"),
    (lambda p: (p.parent.parent.mkdir(parents=True, exist_ok=True),
                p.parent.write_text("not a directory")),
     "cannot be made or read (a part of its path is a file, not a directory)"),
    (lambda p: (p.parent.mkdir(parents=True, exist_ok=True), os.mkfifo(p)),
     "the REST token file is not a regular file"),
], ids=["directory", "parent-is-a-file", "fifo"])
def test_a_token_path_that_is_no_file_is_a_config_error_naming_it(setup, make, said):
    make(setup.token_file)
    with pytest.raises(ConfigError) as exc:
        RestService(load_config(setup.config_file), port=0)
    text = str(exc.value)
    assert text.startswith(f"{setup.token_file}: rest.token_file: ") and said in text, text
    assert exc.value.exit_code == 2


# ---------------------------------------------------------------------- build and read

def test_post_builds_in_the_background_and_get_has_occopus_shape(rest):
    status, body, headers = rest.client.post("/infrastructures/", DESCRIPTION,
                                             headers={"Content-Type": "application/yaml"})
    assert status == 202
    infra_id = body["infraid"]
    assert body["maintained"] is True and headers["location"] == f"/infrastructures/{infra_id}"
    wait_until(lambda: built(rest.client, infra_id), what="build finished")

    status, shape, _ = rest.client.get(f"/infrastructures/{infra_id}")
    assert status == 200
    assert set(shape) == {"db", "app"}
    assert shape["app"]["scaling"] == {"actual": 1, "target": 1, "min": 1, "max": 3}
    (instance_id, instance), = shape["db"]["instances"].items()
    assert instance["state"] == "ready"
    assert instance["resource_address"] == instance["addresses"][0]
    assert shape["db"]["type"] == "db_t"

    status, listing, _ = rest.client.get("/infrastructures/")
    assert listing["infrastructures"] == [infra_id]
    assert listing["items"][0]["ready"] == 2 and listing["items"][0]["maintained"] is True

    status, full, _ = rest.client.get(f"/infrastructures/{infra_id}?format=occo")
    assert full["name"] == "shop" and full["status"] == "ready" and full["busy"] is None
    _, events, _ = rest.client.get(f"/infrastructures/{infra_id}/events")
    kinds = [e["type"] for e in events["events"]]
    assert kinds[0] == "infra.created" and kinds.count("node.ready") == 2
    # a secret-named variable of the description is in no answer
    for text in (json.dumps(shape), json.dumps(listing), json.dumps(full), json.dumps(events)):
        assert "hunter2-secret" not in text


def test_json_body_is_accepted(rest):
    data = yaml.safe_load(DESCRIPTION)
    status, body, _ = rest.client.post("/infrastructures/", json.dumps(data, indent="\t"),
                                       headers={"Content-Type": "application/json"})
    assert status == 202, body
    wait_until(lambda: built(rest.client, body["infraid"]), what="build finished")


def test_events_after_a_position(rest):
    infra_id = rest.build()
    _, first, _ = rest.client.get(f"/infrastructures/{infra_id}/events?limit=2")
    assert [e["position"] for e in first["events"]] == [1, 2] and first["last"] == 2
    _, rest_of, _ = rest.client.get(f"/infrastructures/{infra_id}/events?after=2")
    assert rest_of["events"][0]["position"] == 3
    status, body, _ = rest.client.get(f"/infrastructures/{infra_id}/events?after=-1")
    assert status == 400
    assert body["message"] == ("query parameter after must be an integer from 0 to "
                               "9007199254740991, got '-1'")


def test_attach_and_detach_set_the_flag_in_the_store(rest):
    infra_id = rest.build()
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/detach")
    assert (status, body) == (200, {"infraid": infra_id, "maintained": False})
    assert rest.service.occo.store.get_infrastructure(infra_id).maintained is False
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/attach")
    assert body["maintained"] is True
    assert rest.service.occo.store.get_infrastructure(infra_id).maintained is True


def test_delete_destroys_in_the_background(rest):
    infra_id = rest.build()
    assert len(rest.service.occo.system.cloud_service.list_nodes(infra_id)) == 2
    status, body, _ = rest.client.delete(f"/infrastructures/{infra_id}")
    assert (status, body) == (202, {"infraid": infra_id, "status": "destroying"})
    wait_until(lambda: rest.client.get(f"/infrastructures/{infra_id}")[0] == 404,
             what="infrastructure forgotten")
    cloud = rest.service.occo.system.cloud_service
    assert cloud is not None and cloud.list_nodes(infra_id) == []
    assert rest.client.get("/infrastructures/")[1]["infrastructures"] == []


# ---------------------------------------------------------------------- scaling

def test_scaling_is_queued_clamped_with_a_warning_and_applied(rest):
    infra_id = rest.build()
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/scaleup/app/5")
    assert status == 202
    assert body["method"] == "scaleup" and body["count"] == 5 and body["nodename"] == "app"
    assert body["requested"] == 6 and body["target"] == 3
    assert body["warnings"] == ["app: 6 instances requested, clamped to 3 (min 1, max 3)"]
    assert body["queued"] is True and body["maintained"] is True
    wait_until(lambda: _ready(rest, infra_id, "app") == 3, what="scaled up to 3")

    _, shape, _ = rest.client.get(f"/infrastructures/{infra_id}")
    victim_id, victim = sorted(shape["app"]["instances"].items(),
                               key=lambda kv: kv[1]["created_at"])[0]
    status, body, _ = rest.client.post(
        f"/infrastructures/{infra_id}/scaledown/app/{victim['resource_address']}")
    assert status == 202 and body["warnings"] == [] and body["target"] == 2
    wait_until(lambda: victim_id not in rest.client.get(
        f"/infrastructures/{infra_id}")[1]["app"]["instances"], what="named instance gone")

    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/scaleto/app/0")
    assert body["target"] == 1
    assert body["warnings"] == ["app: 0 instances requested, clamped to 1 (min 1, max 3)"]
    wait_until(lambda: len(rest.client.get(
        f"/infrastructures/{infra_id}")[1]["app"]["instances"]) == 1, what="scaled to 1")
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/scaledown/app")
    assert status == 202 and body["target"] == 1 and body["warnings"]


def _ready(rest, infra_id: str, node: str) -> int:
    _, shape, _ = rest.client.get(f"/infrastructures/{infra_id}")
    return sum(i["state"] == "ready" for i in shape[node]["instances"].values())


def test_bad_counts_are_400(rest):
    infra_id = rest.build()
    for path, message in [
            ("scaleup/app/0", "count must be an integer from 1 to 9007199254740991, got '0'"),
            ("scaleup/app/two", "count must be an integer from 1 to 9007199254740991, got 'two'"),
            ("scaleto/app/-1", "count must be an integer from 0 to 9007199254740991, got '-1'")]:
        status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/{path}")
        assert (status, body["message"]) == (400, message)
    assert rest.service.occo.store.peek_scaling_requests(infra_id) == []


# ---------------------------------------------------------------------- bad input

def test_a_body_that_is_not_yaml_is_400_with_its_location(rest):
    status, body, _ = rest.client.post("/infrastructures/", "infra_name: x\nnodes: [ {name: a")
    assert status == 400
    assert body["error"] == "YAMLSyntaxError" and body["file"] == "request body"
    assert body["line"] == 2 and body["message"].startswith("invalid YAML")
    assert rest.client.get("/infrastructures/")[1]["infrastructures"] == []


def test_a_bad_description_lists_its_located_errors(rest):
    text = DESCRIPTION.replace("scaling: {min: 1, max: 3}", "scaling: {min: two, max: 3}")
    text = text.replace("type: db_t", "type: dbx_t")
    status, body, _ = rest.client.post("/infrastructures/", text)
    assert status == 400 and body["error"] == "CompileErrors"
    by_path = {e["path"]: e for e in body["errors"]}
    assert by_path["nodes[1].scaling.min"]["message"] == "must be an integer >= 0, got 'two'"
    assert (by_path["nodes[1].scaling.min"]["file"], by_path["nodes[1].scaling.min"]["line"]) \
        == ("request body", 5)
    assert "'node_def:dbx_t'" in by_path["nodes[0].type"]["message"]
    assert by_path["nodes[0].type"]["line"] == 4
    assert rest.client.get("/infrastructures/")[1]["infrastructures"] == []


@pytest.mark.parametrize("body, message", [
    (b"", "the request body is empty: send an infrastructure description (YAML or JSON)"),
    (b"- a\n- b\n", "the request body must be an infrastructure description (a mapping with "
                    "infra_name and nodes), got a list"),
    (b"/etc/passwd", "the request body must be an infrastructure description (a mapping with "
                     "infra_name and nodes), got a str"),
    (b"infra_name: \xff\xfe", "the request body is not UTF-8 text (byte 12)"),
    (b"a: !yaml_import {url: 'file:///etc/passwd'}", None),
])
def test_bodies_that_are_no_description(rest, body, message):
    status, answer, _ = rest.client.post("/infrastructures/", body)
    assert status == 400, answer
    if message is None:  # include tags are refused in API input
        assert answer["error"] == "ForbiddenTagError" and "!yaml_import" in answer["message"]
    else:
        assert answer["message"] == message and answer["file"] == "request body"
    assert rest.client.get("/infrastructures/")[1]["infrastructures"] == []


def test_bad_query_parameters_and_a_description_no_cloud_can_build(rest, setup):
    status, body, _ = rest.client.post("/infrastructures/?keep_on_failure=maybe", DESCRIPTION)
    assert (status, body["message"]) == (
        400, "query parameter keep_on_failure: expected true or false, got 'maybe'")
    status, body, _ = rest.client.get("/infrastructures/x?format=xml")
    assert (status, body["message"]) == (
        400, "query parameter format: expected occopus or occo, got 'xml'")
    # an ec2 node with no credentials: refused before anything is registered
    (setup.root / "ec2.yaml").write_text(
        "'node_def:cloud_t':\n  - resource: {type: ec2, endpoint: 'http://127.0.0.1:9', "
        "regionname: us-east-1, image_id: ami-1, instance_type: t3.small}\n")
    import_definitions(rest.service.occo, [setup.root / "ec2.yaml"])
    status, body, _ = rest.client.post("/infrastructures/",
                                       DESCRIPTION.replace("type: db_t", "type: cloud_t"))
    assert status == 400 and body["error"] == "BuildFailed"
    assert body["message"].startswith("cannot build: node 'db': its resource section (type "
                                      "'ec2') needs credentials")
    assert rest.client.get("/infrastructures/")[1]["infrastructures"] == []


def test_an_oversized_body_is_413(setup):
    running = Running(setup, max_body=2048)
    try:
        big = DESCRIPTION + "# " + "x" * 4096 + "\n"
        status, body, _ = running.client.post("/infrastructures/", big)
        assert status == 413
        assert body["message"] == (f"the request body has {len(big)} bytes; the limit is "
                                   "2048 (rest.max_body)")
        # without a Content-Length (chunked), the limit holds while reading
        running.client.conn.request("POST", "/infrastructures/", body=iter([big.encode()]),
                                    headers={"Authorization": f"Bearer {running.service.token}"},
                                    encode_chunked=True)
        response = running.client.conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 413 and "2048" in answer["message"]
        assert running.client.get("/infrastructures/")[1]["infrastructures"] == []
    finally:
        running.stop()


def test_unknown_ids_are_404(rest):
    infra_id = rest.build()
    missing = "00000000-0000-0000-0000-000000000000"
    for method, path in [("GET", f"/infrastructures/{missing}"),
                         ("DELETE", f"/infrastructures/{missing}"),
                         ("POST", f"/infrastructures/{missing}/attach"),
                         ("POST", f"/infrastructures/{missing}/scaleup/app"),
                         ("GET", f"/infrastructures/{missing}/events")]:
        status, body, _ = rest.client.request(method, path)
        assert status == 404, (method, path, body)
        assert body["error"] == "UnknownInfrastructure"
        assert body["message"].startswith(f"no infrastructure '{missing}' in the store")
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/scaleup/web")
    assert (status, body["error"]) == (404, "NodeNotFound")
    assert body["message"] == f"infrastructure {infra_id} has no node 'web'; known: app, db"
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/scaledown/app/10.9.9.9")
    assert (status, body["error"]) == (404, "InstanceNotFound")
    assert "no instance with the id or address '10.9.9.9'" in body["message"]
    status, body, _ = rest.client.get("/no/such/path")
    assert status == 404 and body["error"] == "NotFound"
    status, body, _ = rest.client.request("PUT", "/infrastructures/")
    assert status == 405 and body["error"] == "MethodNotAllowed"
    assert rest.service.occo.store.peek_scaling_requests(infra_id) == []


# ---------------------------------------------------------------------- conflicts

def test_a_busy_infrastructure_is_409(rest):
    # nodes that never come up keep the build busy until it is cancelled
    stuck = DESCRIPTION.replace("type: app_t, scaling: {min: 1, max: 3}",
                                "type: stuck_t, scaling: {min: 2, max: 3}")
    status, body, _ = rest.client.post("/infrastructures/", stuck)
    assert status == 202
    infra_id = body["infraid"]
    status, again, headers = rest.client.post("/infrastructures/", stuck)
    assert status == 409 and again["error"] == "Busy" and headers["retry-after"]
    assert again["message"] == (f"infrastructure {infra_id} is building (started through this "
                                "service); retry when that is done")
    status, body, _ = rest.client.delete(f"/infrastructures/{infra_id}")
    assert status == 409 and "is building" in body["message"]
    # cancel says True once the processor is carrying the build out; its first call also
    # writes the cancel to the store, which the processor may act on before the call
    # arrives (then the build ends cancelled and cancel says False: nothing runs)
    wait_until(lambda: rest.service.occo.cancel(infra_id)
             or rest.service.work.busy(infra_id) is None, what="build cancelled")
    wait_until(lambda: rest.service.work.busy(infra_id) is None, what="build ended")
    assert rest.service.occo.system.cloud_service.list_nodes(infra_id) == []
    assert len(rest.client.get("/infrastructures/")[1]["infrastructures"]) == 1

    # another process's maintainer holds the lease: both are refused, nothing changes
    store = rest.service.occo.store
    # (this service's own maintainer may be between two passes of it: wait for its lease)
    wait_until(lambda: store.acquire_lease(lease_name(infra_id), "other-host:4242:abc", 60),
             what="the lease taken by another host")
    before = store.get_infrastructure(infra_id)
    try:
        status, body, _ = rest.client.delete(f"/infrastructures/{infra_id}")
        assert status == 409
        assert body["message"] == (f"infrastructure {infra_id} is being built, destroyed or "
                                   "maintained by other-host:4242:abc; retry when that is done")
        assert rest.client.post("/infrastructures/", stuck)[0] == 409
    finally:
        store.release_lease(lease_name(infra_id), "other-host:4242:abc")
    after = store.get_infrastructure(infra_id)
    assert (after.status, after.maintained) == (before.status, before.maintained)
    assert rest.client.delete(f"/infrastructures/{infra_id}")[0] == 202
    wait_until(lambda: rest.client.get(f"/infrastructures/{infra_id}")[0] == 404,
             what="infrastructure forgotten")


def test_a_request_waits_for_this_services_own_maintenance_pass(rest):
    infra_id = rest.build()
    store = rest.service.occo.store
    maintainer = rest.service.work.maintainer.holder
    assert store.acquire_lease(lease_name(infra_id), maintainer, 60)  # "a pass is running"
    try:
        status, body, _ = rest.client.delete(f"/infrastructures/{infra_id}")
        assert status == 202   # accepted: it waits for the pass instead of failing
        assert rest.service.work.busy(infra_id) == "destroying"
        assert rest.service.occo.system.cloud_service.list_nodes(infra_id)
    finally:
        store.release_lease(lease_name(infra_id), maintainer)
    wait_until(lambda: rest.client.get(f"/infrastructures/{infra_id}")[0] == 404,
             what="destroyed once the pass ended")
    assert rest.service.occo.system.cloud_service.list_nodes(infra_id) == []


# ---------------------------------------------------------------------- the document, CORS

def test_openapi_document_describes_every_route(rest):
    status, doc, _ = rest.client.get("/openapi.json")
    assert status == 200 and doc == json.loads(json.dumps(openapi_document(doc["info"]["version"])))
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in rest.service.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        if rule.endpoint.startswith("ui_"):   # the dashboard's page (test_dashboard.py)
            assert rule.rule.startswith("/ui/"), rule.rule
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_cors_is_off_unless_configured(setup):
    preflight = {"Origin": "https://dash.example.org", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "Authorization"}
    running = Running(setup)
    try:
        status, _, headers = running.anonymous.request("OPTIONS", "/infrastructures/",
                                                       headers=preflight)
        assert "access-control-allow-origin" not in headers
        _, _, headers = running.client.get("/infrastructures/", headers={
            "Origin": "https://dash.example.org"})
        assert "access-control-allow-origin" not in headers
    finally:
        running.stop()
    running = Running(setup, cors_origins=["https://dash.example.org"])
    try:
        status, _, headers = running.anonymous.request("OPTIONS", "/infrastructures/",
                                                       headers=preflight)
        assert status == 200
        assert headers["access-control-allow-origin"] == "https://dash.example.org"
        assert "authorization" in headers["access-control-allow-headers"].lower()
        _, _, headers = running.anonymous.request("OPTIONS", "/infrastructures/", headers={
            **preflight, "Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in headers
        # CORS opens no door: without the token a cross-origin GET is still refused
        assert running.anonymous.get("/infrastructures/", headers={
            "Origin": "https://dash.example.org"})[0] == 401
    finally:
        running.stop()


def test_listening_on_a_used_port_is_a_clear_error(rest, setup):
    with pytest.raises(Exception) as exc:
        RestService(load_config(setup.config_file), port=rest.service.port)
    assert f"cannot listen on 127.0.0.1:{rest.service.port}" in str(exc.value)
    assert "in use" in str(exc.value)


def test_token_path_is_created_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    setup = Setup(tmp_path)
    setup.write(rest={"token_file": str(tmp_path / "deep" / "er" / "token")})
    service = RestService(load_config(setup.config_file), port=0)
    try:
        assert Path(tmp_path / "deep" / "er" / "token").is_file()
        assert stat.S_IMODE((tmp_path / "deep" / "er").stat().st_mode) == 0o700
    finally:
        service.stop()


# ------------------------------------------------------------ hostile numbers, methods, bodies

@pytest.mark.parametrize("raw", ["٣", "²", "1e3", "0x10", "-1", "+2", "1.5", "３",
                                 "9" * 30, str(2 ** 53)])
def test_numbers_in_paths_are_ascii_digits_in_range_and_a_bad_one_queues_nothing(rest, raw):
    infra_id = rest.build()
    for path, field in ((f"/infrastructures/{infra_id}/scaleup/app/{raw}", "count"),
                        (f"/infrastructures/{infra_id}/scaleto/app/{raw}", "count"),
                        (f"/infrastructures/{infra_id}/events?after={raw}",
                         "query parameter after"),
                        (f"/infrastructures/{infra_id}/events?limit={raw}",
                         "query parameter limit")):
        method = "GET" if "events" in path else "POST"
        status, body, _ = rest.client.request(method, quote(path, safe="/?="))
        assert status == 400, (path, body)
        assert body["message"].startswith(f"{field} must be an integer from "), body
    assert rest.service.occo.store.peek_scaling_requests(infra_id) == []


def test_a_method_a_path_does_not_take_is_405_with_allow(rest):
    infra_id = rest.build()
    for method, path, allowed in (("PUT", "/infrastructures/", "GET, HEAD, OPTIONS, POST"),
                                  ("PATCH", f"/infrastructures/{infra_id}",
                                   "DELETE, GET, HEAD, OPTIONS"),
                                  ("GET", f"/infrastructures/{infra_id}/attach",
                                   "OPTIONS, POST")):
        status, body, headers = rest.client.request(method, path)
        assert status == 405 and headers["allow"] == allowed, (method, path, headers)
        assert body["message"] == f"{path} does not take {method}; it takes {allowed}"


@pytest.mark.parametrize("kind", ["multipart/form-data; boundary=x", "image/png",
                                  "application/xml", "text/html"])
def test_a_description_body_of_another_type_is_415_naming_the_types(rest, kind):
    status, body, _ = rest.client.post("/infrastructures/", DESCRIPTION,
                                       headers={"Content-Type": kind})
    assert status == 415, body
    assert body["message"].startswith(f"the request body is {kind.split(';')[0]}; send the "
                                      "description as application/yaml or application/json")
    if kind.startswith("multipart/"):
        assert "curl --data-binary @infra.yaml" in body["message"]
    assert rest.service.occo.store.list_infrastructures() == []


def test_curls_default_body_type_is_read_as_occopus_users_send_it(rest):
    status, body, _ = rest.client.post(
        "/infrastructures/", DESCRIPTION,
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 202, body
    wait_until(lambda: built(rest.client, body["infraid"]), what="build finished")


def test_a_rest_build_that_breaks_is_failed_and_detached(rest):
    def broken(*args, **kwargs):
        raise RuntimeError("the processor's transport went away")
    rest.service.occo.system.enactor.maintain_once = broken
    status, body, _ = rest.client.post("/infrastructures/", DESCRIPTION)
    assert status == 202, body
    infra_id = body["infraid"]
    store = rest.service.occo.store
    wait_until(lambda: store.get_infrastructure(infra_id).status == "failed",
             what="the build to be recorded failed")
    wait_until(lambda: not store.get_infrastructure(infra_id).maintained,
             what="the infrastructure to be detached")
    [event] = [e for e in store.read_events(infra_id, after=0) if e.type == "build.failed"]
    assert "transport went away" in event.details["reason"]
