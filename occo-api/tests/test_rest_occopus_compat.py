"""Occopus's REST paths answer as Occopus 1.10's service does (same path, method and body
keys; OCCO's deliberate differences are in docs/user/compat/rest-commands.inc), and the
per-infrastructure scaling secret lets nodes call the scale paths without the token.

The service runs in this process over real HTTP on 127.0.0.1, as in test_rest.py."""

from __future__ import annotations

import json
import logging

import pytest
from rest_support import DESCRIPTION, Client, Setup, built

from occo.api.config import load_config
from occo.api.occopus import run
from occo.api.rest import OCCOPUS_ROUTES, SCALE_ENDPOINTS, RestService
from occo.api.rest_auth import SCALING_SECRET_HEADER, RateLimiter, secret_matches
from occo.api.rest_state import import_definitions
from occo.compiler import StaticDescription
from occo.infobroker import SecretBox, SQLiteStore
from occo.util.instance_request import RequestBuilder, scaling_secret
from occo.util.template_names import INSTANCE_NAMES
from occo.util.testing import wait_until

OTHER = DESCRIPTION.replace("infra_name: shop", "infra_name: other")
MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def setup(tmp_path, monkeypatch) -> Setup:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    s = Setup(tmp_path)
    s.write()
    return s


class Running:
    def __init__(self, setup: Setup, **kwargs) -> None:
        self.service = RestService(load_config(setup.config_file), port=0, **kwargs)
        import_definitions(self.service.occo, [setup.root / "nodes.yaml"])
        self.service.start()
        self.client = Client(self.service.port, self.service.token)
        self.anonymous = Client(self.service.port, None)

    def build(self, text: str = DESCRIPTION) -> str:
        status, body, _ = self.client.post("/infrastructures/", text)
        assert status == 202, body
        wait_until(lambda: built(self.client, body["infraid"]), what="build finished")
        return body["infraid"]

    def secret(self, infra_id: str) -> str:
        secret = self.service.occo.store.scaling_secret(infra_id)
        assert secret and len(secret) >= 40
        return secret

    def stop(self) -> None:
        self.client.close()
        self.anonymous.close()
        assert self.service.stop() == []


@pytest.fixture
def rest(setup):
    running = Running(setup)
    yield running
    running.stop()


# ---------------------------------------------------------------------- Occopus's paths

def test_every_occopus_route_is_served(rest):
    served = {(m, r.rule) for r in rest.service.app.url_map.iter_rules()
              for m in r.methods - {"HEAD", "OPTIONS"}}
    for method, path in OCCOPUS_ROUTES:
        ours = path.replace("<infraid>", "<infra_id>").replace("<nodename>", "<node>")
        assert (method, ours) in served, (method, path)


def test_create_list_show_delete_have_occopus_keys(rest):
    status, body, _ = rest.client.post("/infrastructures/", DESCRIPTION)
    assert status == 202 and isinstance(body["infraid"], str)
    infra_id = body["infraid"]
    wait_until(lambda: built(rest.client, infra_id), what="build finished")

    status, listing, _ = rest.client.get("/infrastructures/")
    assert status == 200 and listing["infrastructures"] == [infra_id]

    status, report, _ = rest.client.get(f"/infrastructures/{infra_id}")
    assert status == 200 and set(report) == {"db", "app"}
    for node in report.values():
        assert {"instances", "scaling"} <= set(node)
        assert set(node["scaling"]) == {"actual", "target", "min", "max"}
        for instance in node["instances"].values():
            assert {"resource_address", "state"} <= set(instance)
            assert instance["state"] == "ready"

    for action in ("detach", "attach"):
        status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/{action}")
        assert status == 200 and body["infraid"] == infra_id

    status, body, _ = rest.client.delete(f"/infrastructures/{infra_id}")
    assert status == 202 and body["infraid"] == infra_id
    wait_until(lambda: rest.client.get(f"/infrastructures/{infra_id}")[0] == 404,
             what="destroyed")


def test_scale_answers_have_occopus_keys(rest):
    infra_id = rest.build()
    base = f"/infrastructures/{infra_id}"
    cases = [("scaleup/app", {"method": "scaleup", "count": 1}),
             ("scaleup/app/2", {"method": "scaleup", "count": 2}),
             ("scaleto/app/2", {"method": "scaleto", "count": 2}),
             ("scaledown/app", {"method": "scaledown", "nodeid": None})]
    for path, expected in cases:
        status, body, _ = rest.client.post(f"{base}/{path}")
        assert status == 202, (path, body)
        assert {**expected, "infraid": infra_id, "nodename": "app"}.items() <= body.items()
    _, report, _ = rest.client.get(base)
    (instance_id, _), = report["db"]["instances"].items()  # nothing else scales db
    status, body, _ = rest.client.post(f"{base}/scaledown/db/{instance_id}")
    assert status == 202 and body["method"] == "scaledown" and body["nodeid"] == instance_id


def test_errors_carry_occopus_keys_and_real_statuses(rest):
    for method, path in [("GET", f"/infrastructures/{MISSING}"),
                         ("DELETE", f"/infrastructures/{MISSING}"),
                         ("POST", f"/infrastructures/{MISSING}/detach"),
                         ("POST", f"/infrastructures/{MISSING}/scaleto/app/2")]:
        status, body, _ = rest.client.request(method, path)
        assert status == 404, (method, path)
        assert body["status_code"] == 404 and body["reason"] == body["message"]
        assert body["message"].startswith(f"no infrastructure '{MISSING}'")
    infra_id = rest.build()
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/scaleup/web")
    assert (status, body["status_code"], body["error"]) == (404, 404, "NodeNotFound")
    status, body, _ = rest.client.post(f"/infrastructures/{infra_id}/notify")
    assert status == 501 and "/events" in body["message"]


def test_info_serves_the_store_keys_and_refuses_the_rest(rest):
    infra_id = rest.build()
    status, body, _ = rest.client.get(f"/info/infrastructure.name?infra_id={infra_id}")
    assert (status, body) == (200, {"result": "shop"})
    status, body, _ = rest.client.get(f"/info/infrastructure.state?infra_id={infra_id}")
    assert status == 200 and set(body["result"]) == {"db", "app"}
    status, body, _ = rest.client.get(f"/info/infrastructure.events?infra_id={infra_id}"
                                      "&after=1&limit=2")
    assert status == 200 and [e["position"] for e in body["result"]] == [2, 3]
    status, body, _ = rest.client.get("/info/no.such.key")
    assert status == 404 and body["error"] == "InfoKeyError"
    assert "unknown info key 'no.such.key'" in body["message"]
    assert "infrastructure.state" in body["message"]  # the known keys are listed
    status, body, _ = rest.client.get("/info/infrastructure.name")
    assert status == 400 and body["error"] == "InfoArgumentError"
    assert "takes (infra_id)" in body["message"]
    status, body, _ = rest.client.get(f"/info/infrastructure.name?infra_id={MISSING}")
    assert status == 404
    for key in ("infrastructure.static_description", "node.definition"):
        status, body, _ = rest.client.get(f"/info/{key}?infra_id={infra_id}")
        assert status == 403 and "never sent back" in body["message"]
    assert rest.anonymous.get(f"/info/infrastructure.name?infra_id={infra_id}")[0] == 401


# ---------------------------------------------------------------------- the scaling secret

def test_the_secret_authorises_the_scale_paths_of_its_infrastructure(rest):
    infra_id = rest.build()
    secret = rest.secret(infra_id)
    base = f"/infrastructures/{infra_id}"
    status, body, _ = rest.anonymous.post(f"{base}/scaleup/app?secret={secret}")
    assert status == 202 and body["method"] == "scaleup" and body["target"] == 2
    status, body, _ = rest.anonymous.post(f"{base}/scaleto/app/3",
                                          headers={SCALING_SECRET_HEADER: secret})
    assert status == 202 and body["target"] == 3
    status, body, _ = rest.anonymous.post(f"{base}/scaledown/app",
                                          headers={SCALING_SECRET_HEADER: secret})
    assert status == 202 and body["target"] == 2
    wait_until(lambda: sum(i["state"] == "ready" for i in rest.client.get(base)[1]["app"][
        "instances"].values()) == 2, what="scaled by the node's requests")


def test_the_secret_opens_nothing_else(rest):
    infra_id = rest.build()
    other_id = rest.build(OTHER)
    secret = rest.secret(infra_id)
    assert secret != rest.secret(other_id)
    header = {SCALING_SECRET_HEADER: secret}
    for method, path in [("GET", "/infrastructures/"), ("POST", "/infrastructures/"),
                         ("GET", f"/infrastructures/{infra_id}"),
                         ("DELETE", f"/infrastructures/{infra_id}"),
                         ("POST", f"/infrastructures/{infra_id}/detach"),
                         ("POST", f"/infrastructures/{infra_id}/attach"),
                         ("GET", f"/infrastructures/{infra_id}/events"),
                         ("GET", f"/info/infrastructure.name?infra_id={infra_id}"),
                         ("GET", "/openapi.json")]:
        status, body, _ = rest.anonymous.request(method, path, headers=header)
        assert status == 403, (method, path, body)
        assert "only POST /infrastructures/<id>/scaleup|scaledown|scaleto" in body["message"]
    # another infrastructure's scale paths, and an unknown one, look the same
    for target in (other_id, MISSING):
        status, body, _ = rest.anonymous.post(f"/infrastructures/{target}/scaleup/app",
                                              headers=header)
        assert status == 403 and body["message"] == (
            f"this is not the scaling secret of infrastructure {target}")
    # a wrong secret, an empty one, none at all
    status, body, _ = rest.anonymous.post(f"/infrastructures/{infra_id}/scaleup/app",
                                          headers={SCALING_SECRET_HEADER: secret[:-1] + "x"})
    assert status == 403
    status, _, headers = rest.anonymous.post(f"/infrastructures/{infra_id}/scaleup/app"
                                             "?secret=")
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    store = rest.service.occo.store
    assert store.peek_scaling_requests(infra_id) == []
    assert store.peek_scaling_requests(other_id) == []
    assert store.get_infrastructure(infra_id).maintained is True


def test_secret_requests_are_rate_limited_per_infrastructure(setup):
    running = Running(setup, scaling_rate=3)
    try:
        infra_id = running.build()
        other_id = running.build(OTHER)
        secret = running.secret(infra_id)
        path = f"/infrastructures/{infra_id}/scaleto/app/2"
        wrong = running.anonymous.post(path, headers={SCALING_SECRET_HEADER: "guess-1234"})
        assert wrong[0] == 403  # wrong guesses count against the rate as well
        for _ in range(2):
            assert running.anonymous.post(path, headers={SCALING_SECRET_HEADER: secret}
                                          )[0] == 202
        status, body, headers = running.anonymous.post(
            path, headers={SCALING_SECRET_HEADER: secret})
        assert status == 429 and body["error"] == "TooManyRequests"
        assert body["message"].startswith(
            f"more than 3 scaling requests in a minute for infrastructure {infra_id}")
        assert 1 <= int(headers["retry-after"]) <= 60
        # the token is not limited, nor is another infrastructure's secret
        assert running.client.post(path)[0] == 202
        assert running.anonymous.post(
            f"/infrastructures/{other_id}/scaleto/app/2",
            headers={SCALING_SECRET_HEADER: running.secret(other_id)})[0] == 202
    finally:
        running.stop()


def test_rate_limiter_window_in_simulated_time():
    now = [1000.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("a") == (True, 0) and limiter.allow("a") == (True, 0)
    assert limiter.allow("a") == (False, 60)
    assert limiter.allow("b")[0]
    now[0] += 59.5
    assert limiter.allow("a") == (False, 1)
    now[0] += 0.6
    assert limiter.allow("a") == (True, 0)
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_the_tracked_keys_are_bounded():
    now = [0.0]
    limiter = RateLimiter(1, clock=lambda: now[0])
    limiter.MAX_KEYS = 8
    for i in range(100):
        now[0] += 1
        limiter.allow(f"made-up-{i}")
    assert len(limiter._log) <= 8


def test_secret_comparison():
    assert secret_matches("abc-secret", "abc-secret")
    assert secret_matches(" abc-secret\n", "abc-secret")
    assert not secret_matches("abc-secreT", "abc-secret")
    assert not secret_matches(None, "abc-secret") and not secret_matches("x", None)
    assert not secret_matches("", "")


def test_the_secret_is_in_no_answer_no_event_and_no_log(rest, caplog):
    caplog.set_level(logging.DEBUG)
    infra_id = rest.build()
    secret = rest.secret(infra_id)
    rest.anonymous.post(f"/infrastructures/{infra_id}/scaleup/app?secret={secret}")
    rest.anonymous.post(f"/infrastructures/{infra_id}/scaleup/app?secret=wrong-{secret}")
    answers = [rest.client.get(p)[1] for p in (
        "/infrastructures/", f"/infrastructures/{infra_id}",
        f"/infrastructures/{infra_id}?format=occo", f"/infrastructures/{infra_id}/events",
        "/info/infrastructure.list", f"/info/infrastructure.record?infra_id={infra_id}",
        f"/info/infrastructure.node_instances?infra_id={infra_id}",
        f"/info/node.find?infra_id={infra_id}",
        f"/info/infrastructure.static_description?infra_id={infra_id}")]
    for answer in answers:
        assert secret not in json.dumps(answer)
    events = rest.service.occo.events(infra_id)
    assert events and secret not in json.dumps(events)
    assert secret not in json.dumps(rest.service.occo.status(infra_id))
    assert secret not in json.dumps(rest.service.occo.list())
    logged = "\n".join(r.getMessage() + " " + json.dumps(r.args, default=str)
                       for r in caplog.records)
    assert "not its scaling secret" in logged and secret not in logged
    # stored in the description, which no path sends back
    status, body, _ = rest.client.get(f"/info/infrastructure.static_description?infra_id="
                                      f"{infra_id}")
    assert status == 403 and secret not in json.dumps(body)


def test_a_rebuild_keeps_the_secret_and_each_infrastructure_has_its_own(rest):
    infra_id = rest.build()
    secret = rest.secret(infra_id)
    status, body, _ = rest.client.post("/infrastructures/", DESCRIPTION)
    assert status == 202 and body["infraid"] == infra_id
    wait_until(lambda: built(rest.client, infra_id), what="rebuilt")
    assert rest.secret(infra_id) == secret


def test_nodes_templates_get_the_secret(rest):
    infra_id = rest.build()
    secret = rest.secret(infra_id)
    assert "scaling_secret" in INSTANCE_NAMES
    store = rest.service.occo.store
    description = StaticDescription.from_dict(store.get_infrastructure(infra_id).description)
    request = RequestBuilder(description, infra_id,
                             scaling_secret=scaling_secret(store, infra_id)).request(
        "app", "i-1", {"resource": {"type": "dummy"}})
    assert request["scaling_secret"] == secret
    assert RequestBuilder(None, infra_id).request("x", "i", {})["scaling_secret"] is None
    # a process without the store's key file derives none (templates naming it then fail)
    keyless = SQLiteStore(store.path, secrets=SecretBox(store.path.parent / "absent.key"))
    assert scaling_secret(keyless, infra_id) is None
    assert not (store.path.parent / "absent.key").exists()


# ---------------------------------------------------------------------- the scaling listener

def test_the_scaling_listener_serves_only_the_scale_paths(setup):
    running = Running(setup, scaling_host="127.0.0.1", scaling_port=0)
    nodes = Client(running.service.scaling_port, None)
    with_token = Client(running.service.scaling_port, running.service.token)
    try:
        infra_id = running.build()
        secret = running.secret(infra_id)
        header = {SCALING_SECRET_HEADER: secret}
        assert running.service.scaling_url.startswith("http://127.0.0.1:")
        status, body, _ = nodes.post(f"/infrastructures/{infra_id}/scaleup/app", headers=header)
        assert status == 202 and body["nodename"] == "app"
        assert nodes.post(f"/infrastructures/{infra_id}/scaleto/app/1?secret={secret}"
                          )[0] == 202
        for method, path in [("GET", "/infrastructures/"), ("GET", "/health"),
                             ("GET", f"/infrastructures/{infra_id}"),
                             ("DELETE", f"/infrastructures/{infra_id}")]:
            status, body, _ = nodes.request(method, path, headers=header)
            assert status in (403, 404), (method, path, status)
        # the token is not taken here: it never has to travel over the nodes' network
        status, body, _ = with_token.post(f"/infrastructures/{infra_id}/scaleup/app")
        assert status == 401 and SCALING_SECRET_HEADER in body["message"]
        assert {r.endpoint for r in running.service.scaling_app.url_map.iter_rules()} \
            - {"static"} == set(SCALE_ENDPOINTS)
    finally:
        nodes.close()
        with_token.close()
        running.stop()


def test_rest_service_scaling_port_needs_a_host(setup, capsys):
    assert run("occopus-rest-service", ["--cfg", str(setup.config_file),
                                        "--scaling-port", "5001"]) == 2
    assert "--scaling-port goes with --scaling-host" in capsys.readouterr().err


def test_the_scaling_listener_and_rate_come_from_the_configuration(setup):
    setup.write(rest={"token_file": str(setup.token_file), "threads": 8,
                      "scaling_host": "127.0.0.1", "scaling_port": 0, "scaling_rate": 2})
    running = Running(setup)
    nodes = Client(running.service.scaling_port, None)
    try:
        assert running.service.scaling_url.startswith("http://127.0.0.1:")
        assert running.service.limiter.per_minute == 2
        infra_id = running.build()
        header = {SCALING_SECRET_HEADER: running.secret(infra_id)}
        codes = [nodes.post(f"/infrastructures/{infra_id}/scaleto/app/1", headers=header)[0]
                 for _ in range(3)]
        assert codes == [202, 202, 429], codes
    finally:
        nodes.close()
        running.stop()
