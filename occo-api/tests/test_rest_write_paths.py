"""A REST request that answers an error has changed nothing (docs/rest.rst, "Design
decisions"; ARCHITECTURE section 7).

Every write path of the service (POST /infrastructures/, DELETE /infrastructures/<id>,
attach, detach, scaleup[/count], scaledown[/nodeid], scaleto/count, notify, and the
scale paths of the nodes' listener) gets bad input: a bad description, count, node,
instance, secret or query parameter, a body too large or of the wrong type. Each answer
is checked (status, the field named in its message), and the store is compared with a
snapshot taken before: infrastructures, instances, scaling targets, the queued scaling
requests, events, the dummy cloud's nodes, and this service's jobs (nothing started).

The service is not started: requests go through the Flask application in this process
(no socket) and no maintenance pass runs, so nothing but the request under test could
change the store. One scale request is queued before the snapshot, so "nothing queued"
is compared against a queue that is not empty.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from rest_support import DESCRIPTION, Setup
from werkzeug.test import TestResponse

from occo.api.config import load_config
from occo.api.rest import RestService, create_app
from occo.api.rest_state import import_definitions
from occo.enactor import lease_name
from occo.util.testing import wait_until

MAX_BODY = 4096
MISSING = "00000000-0000-0000-0000-000000000000"
OTHER_HOLDER = "other-host:4242:abc"
EC2_DEFINITIONS = ("'node_def:cloud_t':\n  - resource: {type: ec2, endpoint: "
                   "'http://127.0.0.1:9', regionname: us-east-1, image_id: ami-1, "
                   "instance_type: t3.small}\n")


class Service:
    """A service that is not started (no socket, no maintenance) with one infrastructure
    built on the dummy cloud and one scale request queued."""

    def __init__(self, setup: Setup) -> None:
        setup.write(rest={"max_body": MAX_BODY})
        (setup.root / "ec2.yaml").write_text(EC2_DEFINITIONS)
        self.service = RestService(load_config(setup.config_file), port=0)
        self.occo = self.service.occo
        self.store = self.occo.store
        import_definitions(self.occo, [setup.root / "nodes.yaml", setup.root / "ec2.yaml"])
        self.app = self.service.app
        self.http = self.app.test_client()
        self.auth = {"Authorization": f"Bearer {self.service.token}"}
        answer = self.request("POST", "/infrastructures/", DESCRIPTION)
        assert answer.status_code == 202, answer.get_json()
        self.infra_id = answer.get_json()["infraid"]
        wait_until(lambda: self.service.work.busy(self.infra_id) is None, what="build ended")
        assert self.store.get_infrastructure(self.infra_id).status == "ready"
        self.instances = {r.node_name: r for r in self.store.list_instances(self.infra_id)}
        self.secret = self.store.scaling_secret(self.infra_id, create=False)
        queued = self.request("POST", f"/infrastructures/{self.infra_id}/scaleup/app")
        assert queued.status_code == 202, queued.get_json()
        assert len(self.store.peek_scaling_requests(self.infra_id)) == 1

    def request(self, method: str, path: str, body: str | bytes | None = None,
                headers: dict[str, str] | None = None, token: bool = True,
                app: Any = None) -> TestResponse:
        sent = {**(self.auth if token else {}), **(headers or {})}
        client = self.http if app is None else app.test_client()
        return client.open(path, method=method, data=body, headers=sent)

    def snapshot(self) -> dict[str, Any]:
        """Everything a request could write, as comparable values."""
        store = self.store
        records = sorted(store.list_infrastructures(), key=lambda r: r.infra_id)
        ids = [r.infra_id for r in records]
        cloud = self.occo.system.cloud_service
        return {
            "infrastructures": [repr(r) for r in records],
            "instances": {i: sorted(map(repr, store.list_instances(i))) for i in ids},
            "targets": {i: store.get_scaling_targets(i) for i in ids},
            "queued": {i: [r.to_dict() for r in store.peek_scaling_requests(i)] for i in ids},
            "events": {i: [repr(e) for e in store.read_events(i, after=0, limit=100_000)]
                       for i in ids},
            "cloud": {i: sorted(map(repr, cloud.list_nodes(i))) for i in ids},
            "node definitions": sorted(store.list_node_definitions()),
            "jobs": self.service.work.running(),
            "job threads": sorted(t.name for t in threading.enumerate()
                                  if t.name.startswith(("rest-build", "rest-destroy"))),
        }

    def stop(self) -> None:
        assert self.service.work.wait(30) == []
        assert self.service.stop() == []


@pytest.fixture
def svc(tmp_path, monkeypatch) -> Iterator[Service]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    running = Service(Setup(tmp_path))
    yield running
    running.stop()


def refused(svc: Service, method: str, path: str, body: str | bytes | None = None, *,
            status: int, says: str, headers: dict[str, str] | None = None,
            token: bool = True, app: Any = None) -> dict[str, Any]:
    """Send the request; assert its error status and message, and that nothing changed."""
    before = svc.snapshot()
    answer = svc.request(method, path.replace("{id}", svc.infra_id), body, headers, token,
                         app)
    data = answer.get_json()
    assert answer.status_code == status, (method, path, answer.status_code, data)
    assert answer.mimetype == "application/json"
    assert data["status"] == status and data["error"], data
    text = " ".join([data["message"]] + [e["message"] + " " + str(e.get("path"))
                                         for e in data.get("errors", [])])
    assert says in text, (says, data)
    assert svc.snapshot() == before, (method, path, "changed the state")
    return data


# ---------------------------------------------------------------------- POST /infrastructures/

BAD_DESCRIPTIONS = {
    "not YAML": ("infra_name: x\nnodes: [ {name: a", "invalid YAML"),
    "empty": ("", "the request body is empty"),
    "a list": ("- a\n- b\n", "must be an infrastructure description (a mapping"),
    "not UTF-8": (b"infra_name: \xff\xfe", "not UTF-8 text (byte 12)"),
    "include tag": ("infra_name: x\nnodes: !yaml_import {url: 'file:///etc/passwd'}\n",
                    "!yaml_import"),
    "bad scaling": (DESCRIPTION.replace("{min: 1, max: 3}", "{min: two, max: 3}"),
                    "nodes[1].scaling.min"),
    "unknown node type": (DESCRIPTION.replace("type: db_t", "type: dbx_t"),
                          "'node_def:dbx_t'"),
    "no nodes": ("infra_name: bare\n", "missing required key 'nodes'"),
    "a billion instances": (DESCRIPTION.replace("{min: 1, max: 3}",
                                                "{min: 1000000000, max: 1000000000}"),
                            "1000000000 instances exceed the limit of 10000 per node "
                            "(setting instances.max_per_node) nodes[1].scaling.min"),
    "a node no cloud can build": (DESCRIPTION.replace("infra_name: shop", "infra_name: new")
                                  .replace("type: db_t", "type: cloud_t"),
                                  "needs credentials"),
}


@pytest.mark.parametrize("name", sorted(BAD_DESCRIPTIONS))
def test_a_bad_description_creates_nothing(svc, name):
    body, says = BAD_DESCRIPTIONS[name]
    refused(svc, "POST", "/infrastructures/", body, status=400, says=says)


def test_a_bad_description_for_an_existing_name_leaves_that_infrastructure_as_it_was(svc):
    # the same infra_name continues the infrastructure: a description that cannot be
    # built must not flip it to building, fail it, or log events
    body = DESCRIPTION.replace("type: db_t", "type: cloud_t")
    refused(svc, "POST", "/infrastructures/", body, status=400, says="needs credentials")
    refused(svc, "POST", "/infrastructures/?infraid={id}", body, status=400,
            says="needs credentials")
    refused(svc, "POST", "/infrastructures/?infraid={id}",
            DESCRIPTION.replace("{min: 1, max: 3}", "{min: -1, max: 3}"), status=400,
            says="nodes[1].scaling.min")


@pytest.mark.parametrize("query, status, says", [
    ("keep_on_failure=maybe", 400, "query parameter keep_on_failure"),
    ("maintain=2", 400, "query parameter maintain"),
    (f"infraid={MISSING}", 404, f"no infrastructure '{MISSING}'"),
    ("maintian=false", 400, "unknown query parameter 'maintian'"),
])
def test_bad_query_parameters_of_a_good_description_create_nothing(svc, query, status, says):
    body = DESCRIPTION.replace("infra_name: shop", "infra_name: fresh")
    refused(svc, "POST", f"/infrastructures/?{query}", body, status=status, says=says)


@pytest.mark.parametrize("kind", ["image/png", "multipart/form-data; boundary=x",
                                  "application/xml"])
def test_a_description_of_another_type_is_415_and_creates_nothing(svc, kind):
    body = DESCRIPTION.replace("infra_name: shop", "infra_name: fresh")
    data = refused(svc, "POST", "/infrastructures/", body, status=415,
                   says="send the description as application/yaml or application/json",
                   headers={"Content-Type": kind})
    assert data["message"].startswith(f"the request body is {kind.split(';')[0]}")


def test_a_description_too_large_is_413_and_creates_nothing(svc):
    body = DESCRIPTION.replace("infra_name: shop", "infra_name: fresh") + "#" * MAX_BODY
    refused(svc, "POST", "/infrastructures/", body, status=413,
            says=f"the limit is {MAX_BODY} (rest.max_body)")


def test_a_description_for_a_busy_infrastructure_is_409_and_changes_nothing(svc):
    assert svc.store.acquire_lease(lease_name(svc.infra_id), OTHER_HOLDER, 60)
    try:
        refused(svc, "POST", "/infrastructures/", DESCRIPTION.replace("max: 3", "max: 2"),
                status=409, says=f"maintained by {OTHER_HOLDER}")
        refused(svc, "DELETE", "/infrastructures/{id}", status=409,
                says=f"maintained by {OTHER_HOLDER}")
    finally:
        svc.store.release_lease(lease_name(svc.infra_id), OTHER_HOLDER)


# ---------------------------------------------------------------------- who may write

WRITES = [("POST", "/infrastructures/"), ("DELETE", "/infrastructures/{id}"),
          ("POST", "/infrastructures/{id}/attach"), ("POST", "/infrastructures/{id}/detach"),
          ("POST", "/infrastructures/{id}/scaleup/app"),
          ("POST", "/infrastructures/{id}/scaleup/app/2"),
          ("POST", "/infrastructures/{id}/scaledown/app"),
          ("POST", "/infrastructures/{id}/scaledown/app/APP"),
          ("POST", "/infrastructures/{id}/scaleto/app/2"),
          ("POST", "/infrastructures/{id}/notify")]


def _path(svc: Service, path: str) -> str:
    return path.replace("APP", svc.instances["app"].instance_id)


@pytest.mark.parametrize("method, path", WRITES)
def test_every_write_without_a_valid_token_is_401_and_changes_nothing(svc, method, path):
    body = DESCRIPTION if path == "/infrastructures/" else None
    refused(svc, method, _path(svc, path), body, status=401, says="a valid token is needed",
            token=False)
    refused(svc, method, _path(svc, path), body, status=401, says="a valid token is needed",
            headers={"Authorization": "Bearer " + "x" * 43}, token=False)


@pytest.mark.parametrize("method, path", WRITES)
def test_every_write_with_an_unknown_query_parameter_is_400_and_changes_nothing(svc, method,
                                                                               path):
    body = DESCRIPTION if path == "/infrastructures/" else None
    refused(svc, method, _path(svc, path) + "?count=3", body, status=400,
            says="unknown query parameter 'count'")


@pytest.mark.parametrize("method, path", WRITES)
def test_every_write_with_a_body_too_large_is_413_and_changes_nothing(svc, method, path):
    refused(svc, method, _path(svc, path), "x" * (MAX_BODY + 1), status=413,
            says=f"the limit is {MAX_BODY} (rest.max_body)")


@pytest.mark.parametrize("method, path", [w for w in WRITES if "/scale" not in w[1]])
def test_the_scaling_secret_opens_no_other_write(svc, method, path):
    body = DESCRIPTION if path == "/infrastructures/" else None
    refused(svc, method, _path(svc, path), body, status=403,
            says="a scaling secret authorises only POST", token=False,
            headers={"X-OCCO-Scaling-Secret": svc.secret})


@pytest.mark.parametrize("method, path", [w for w in WRITES if "/scale" not in w[1]
                                          and "{id}" in w[1]])
def test_writes_to_an_unknown_infrastructure_are_404(svc, method, path):
    refused(svc, method, path.replace("{id}", MISSING), status=404,
            says=f"no infrastructure '{MISSING}' in the store")


def test_notify_is_501_and_changes_nothing(svc):
    refused(svc, "POST", "/infrastructures/{id}/notify", status=501,
            says="notifications are not supported")


# ---------------------------------------------------------------------- scaling

BIG = str(2 ** 53)


@pytest.mark.parametrize("path, status, says", [
    ("scaleup/app/0", 400, "count must be an integer from 1 to"),
    ("scaleup/app/two", 400, "count must be an integer from 1 to"),
    ("scaleup/app/%D9%A3", 400, "count must be an integer from 1 to"),   # Arabic-Indic 3
    ("scaleup/app/+2", 400, "count must be an integer from 1 to"),
    (f"scaleup/app/{BIG}", 400, f"count must be an integer from 1 to 9007199254740991, "
                                f"got '{BIG}'"),
    ("scaleup/app/10001", 400, "10001 instances exceed the limit of 10000 per node"),
    ("scaleto/app/-1", 400, "count must be an integer from 0 to"),
    ("scaleto/app/1e3", 400, "count must be an integer from 0 to"),
    ("scaleto/app/10001", 400, "10001 instances exceed the limit of 10000 per node"),
    ("scaleup/web", 404, "has no node 'web'; known: app, db"),
    ("scaleup/web/2", 404, "has no node 'web'"),
    ("scaledown/web", 404, "has no node 'web'"),
    ("scaleto/web/1", 404, "has no node 'web'"),
    ("scaledown/app/10.9.9.9", 404, "no instance with the id or address '10.9.9.9'"),
    ("scaledown/app/DB", 404, "no instance with the id or address"),  # another node's
    ("scaledown/app/" + MISSING, 404, f"'{MISSING}'"),
])
def test_a_bad_scale_request_queues_nothing(svc, path, status, says):
    path = path.replace("DB", svc.instances["db"].instance_id)
    refused(svc, "POST", f"/infrastructures/{{id}}/{path}", status=status, says=says)


def test_a_scale_request_for_an_unknown_infrastructure_is_404(svc):
    refused(svc, "POST", f"/infrastructures/{MISSING}/scaleup/app", status=404,
            says=f"no infrastructure '{MISSING}' in the store")


@pytest.mark.parametrize("secret", ["wrong", "", "x" * 2000])
def test_a_wrong_scaling_secret_is_403_and_queues_nothing(svc, secret):
    path = "/infrastructures/{id}/scaleup/app"
    if secret:
        refused(svc, "POST", path, status=403, says="this is not the scaling secret",
                token=False, headers={"X-OCCO-Scaling-Secret": secret})
    refused(svc, "POST", f"{path}?secret={secret or 'nope'}", status=403,
            says="this is not the scaling secret", token=False)


def test_the_nodes_listener_refuses_without_a_right_secret_and_queues_nothing(svc):
    nodes = create_app(svc.occo, svc.service.work, token=svc.service.token,
                       max_body=MAX_BODY, limiter=svc.service.limiter, scaling_only=True)
    refused(svc, "POST", "/infrastructures/{id}/scaleup/app", status=401,
            says="this listener takes only an infrastructure's scaling secret", app=nodes)
    refused(svc, "POST", "/infrastructures/{id}/scaleup/app", status=403,
            says="this is not the scaling secret", token=False,
            headers={"X-OCCO-Scaling-Secret": "wrong"}, app=nodes)
    refused(svc, "POST", "/infrastructures/{id}/scaleup/app/0", status=400,
            says="count must be an integer from 1", token=False,
            headers={"X-OCCO-Scaling-Secret": svc.secret}, app=nodes)
    refused(svc, "POST", "/infrastructures/{id}/scaleup/app?limit=3", status=400,
            says="unknown query parameter 'limit'", token=False,
            headers={"X-OCCO-Scaling-Secret": svc.secret}, app=nodes)
    refused(svc, "DELETE", "/infrastructures/{id}", status=403,
            says="a scaling secret authorises only POST", token=False,
            headers={"X-OCCO-Scaling-Secret": svc.secret}, app=nodes)


def test_past_the_rate_a_right_secret_is_429_and_queues_nothing(svc):
    path = "/infrastructures/{id}/scaleup/app"
    for _ in range(svc.service.limiter.per_minute):
        refused(svc, "POST", path, status=403, says="this is not the scaling secret",
                token=False, headers={"X-OCCO-Scaling-Secret": "guess"})
    data = refused(svc, "POST", path, status=429, says="scaling requests in a minute",
                   token=False, headers={"X-OCCO-Scaling-Secret": svc.secret})
    assert svc.infra_id in data["message"]


def test_a_good_request_does_change_the_state(svc):
    # the snapshot sees a change when there is one, so the tests above can fail
    before = svc.snapshot()
    answer = svc.request("POST", f"/infrastructures/{svc.infra_id}/scaledown/app/"
                         f"{svc.instances['app'].instance_id}")
    assert answer.status_code == 202 and answer.get_json()["nodeid"] == \
        svc.instances["app"].instance_id
    assert svc.snapshot()["queued"] != before["queued"]
    before = svc.snapshot()
    assert svc.request("POST", f"/infrastructures/{svc.infra_id}/detach").status_code == 200
    assert svc.snapshot()["infrastructures"] != before["infrastructures"]


# ---------------------------------------------------------------------- an answer that fails

@pytest.mark.parametrize("method, path", [w for w in WRITES if w[0] != "POST"
                                          or w[1] != "/infrastructures/"])
def test_a_write_whose_answer_cannot_be_made_is_500_and_changes_nothing(svc, monkeypatch,
                                                                      method, path):
    """The answer is made before the write: when making it fails (here: encoding the
    success body), the request is a 500 and has written nothing."""
    import occo.api.rest as rest_module

    real = rest_module.jsonify
    failed = []

    def jsonify(*args: Any, **kwargs: Any) -> Any:
        body = args[0] if args else kwargs
        if isinstance(body, dict) and "infraid" in body and "error" not in body:
            failed.append(body)
            raise RuntimeError("the answer could not be encoded")
        return real(*args, **kwargs)

    monkeypatch.setattr(rest_module, "jsonify", jsonify)
    expected = 501 if path.endswith("/notify") else 500
    refused(svc, method, _path(svc, path), status=expected,
            says="internal error" if expected == 500 else "not supported")
    assert bool(failed) == (expected == 500)
