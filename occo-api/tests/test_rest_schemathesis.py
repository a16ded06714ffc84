"""schemathesis against the REST service's OpenAPI document (``GET /openapi.json``).

Every operation of the document gets a test (schemathesis's pytest integration), run
in-process through the WSGI application of a real :class:`~occo.api.rest.RestService`
(dummy cloud, SQLite state in a temporary directory): schemathesis's requests, its
probes included, never leave the process (the set-up's own build goes to the service's
listener on 127.0.0.1).
Each test has a service of its own with one infrastructure built on the dummy cloud; its
id, node names, instance ids and addresses replace most generated path parameters, so
the requests reach the code behind the 404s. The token is sent with every request.

Checks: no 5xx (``not_a_server_error``), documented status codes, content type and body
schema of every answer, and both directions of the schema's contract:
``negative_data_rejection`` (what the schema forbids, the service refuses) and
``positive_data_acceptance`` (what it allows, the service does not answer 400), plus the
``Allow`` header of 405s.

Bounded for CI (a few examples per operation, a deadline per example). The long mode,
``OCCO_SCHEMATHESIS=long`` in the environment, runs many more examples; see docs/rest.rst,
"Testing". No example database is written (``database=None``).
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import configuration as hypothesis_configuration
from rest_support import DESCRIPTION, Client, Setup, built
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from occo.api.config import load_config
from occo.api.rest import RestService
from occo.api.rest_openapi import openapi_document
from occo.api.rest_state import import_definitions
from occo.api.version import __version__
from occo.util.testing import wait_until

# hypothesis's caches (constants, unicode data), which it writes from the collection of
# this module on, go to a temporary directory, not into the tree; no example database is
# written either (database=None below)
_HOME_BEFORE = getattr(hypothesis_configuration, "__hypothesis_home_directory", None)
_HOME = tempfile.mkdtemp(prefix="occo-hypothesis-")
hypothesis_configuration.set_hypothesis_home_dir(_HOME)

LONG = os.environ.get("OCCO_SCHEMATHESIS", "").strip().lower() == "long"
#: examples per operation and generation phase: a few in CI, many in the long mode
MAX_EXAMPLES = int(os.environ.get("OCCO_SCHEMATHESIS_EXAMPLES") or (300 if LONG else 12))

#: the service's token: schemathesis sends it as the bearerAuth scheme of the document, so
#: that its own probes (the same request without it, or with a wrong one) know what it is
TOKEN = secrets.token_urlsafe(32)

CONFIG = SchemathesisConfig.from_dict({
    "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none",
                   "allow-x00": True},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
               "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    **({} if LONG else {"seed": 16}),   # the long mode draws a new seed every run
})


def _document() -> dict[str, Any]:
    """The served document, with examples: a description that builds on the dummy cloud
    as the body of POST /infrastructures/ (so the examples phase reaches a 202)."""
    document = openapi_document(__version__)
    content = document["paths"]["/infrastructures/"]["post"]["requestBody"]["content"]
    content["application/json"]["example"] = {**yaml.safe_load(DESCRIPTION),
                                              "infra_name": "posted"}
    # and the other form of the status as an example, so CI checks its schema too
    show = document["paths"]["/infrastructures/{infra_id}"]["get"]["parameters"]
    [form] = [p for p in show if p["name"] == "format"]
    form["example"] = "occo"
    return document


SCHEMA = schemathesis.openapi.from_dict(_document(), config=CONFIG)

#: operations whose valid-by-the-schema input can still be refused with 400 for reasons a
#: schema cannot state: a description is compiled against the node definitions in the
#: store, an info key's arguments depend on the key, and a rollback needs a previous
#: definition in the store
SEMANTIC_400 = {("POST", "/infrastructures/"), ("GET", "/info/{key}"),
                ("POST", "/infrastructures/{infra_id}/plan"),
                ("POST", "/infrastructures/{infra_id}/rollback")}
#: Occopus's notification settings: not supported, answered 501
NOTIFY = ("POST", "/infrastructures/{infra_id}/notify")


class Service:
    """A started service (listening on 127.0.0.1, maintaining) with one infrastructure
    built on the dummy cloud."""

    def __init__(self, root) -> None:
        setup = Setup(root)
        # schemathesis's probes send many wrong scaling secrets; past the rate they would
        # get the documented 429 instead of 403 (test_rest_write_paths tests the rate)
        setup.write(rest={"scaling_rate": 1_000_000})
        # the token schemathesis sends (its auth configuration), as the service's token file
        setup.token_file.parent.mkdir(mode=0o700)
        setup.token_file.write_text(TOKEN + "\n")
        setup.token_file.chmod(0o600)
        self.service = RestService(load_config(setup.config_file), port=0)
        import_definitions(self.service.occo, [setup.root / "nodes.yaml"])
        assert self.service.token == TOKEN
        self.service.start()
        self.client = Client(self.service.port, self.service.token)
        status, body, _ = self.client.post("/infrastructures/", DESCRIPTION)
        assert status == 202, body
        self.infra_id = body["infraid"]
        wait_until(lambda: built(self.client, self.infra_id), what="build finished")
        shape = self.client.get(f"/infrastructures/{self.infra_id}")[1]
        #: node name -> its instances' ids and addresses
        self.nodes = {name: [*node["instances"],
                             *(i["resource_address"] for i in node["instances"].values()
                               if i["resource_address"])]
                      for name, node in sorted(shape.items())}

    def real_ids(self, case: Any) -> None:
        """Replace most generated ids in the path by real ones (a choice fixed by the
        generated values, so a failing example replays the same way)."""
        params = case.path_parameters
        if not params:
            return
        choice = random.Random(repr(sorted(params.items(), key=str)))
        if "infra_id" in params and choice.random() < 0.8:
            params["infra_id"] = self.infra_id
        if "node" in params and choice.random() < 0.8:
            params["node"] = choice.choice(sorted(self.nodes))
            if "nodeid" in params and choice.random() < 0.8:  # one of that node's
                params["nodeid"] = choice.choice(self.nodes[params["node"]])

    def stop(self) -> None:
        self.client.close()
        self.service.work.wait(30)
        assert self.service.stop() == []


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home() -> Iterator[None]:
    """Once this module's tests are done, hypothesis's home is what it was."""
    yield
    hypothesis_configuration.set_hypothesis_home_dir(_HOME_BEFORE)
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture
def service(tmp_path, monkeypatch) -> Iterator[Service]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    running = Service(tmp_path)
    yield running
    running.stop()


@SCHEMA.parametrize()
@settings(database=None, deadline=None, max_examples=MAX_EXAMPLES,
          suppress_health_check=list(HealthCheck))
def test_the_service_keeps_the_contract_of_its_openapi_document(case, service):
    # in-process, probes (a request without the token...) included
    case.operation.schema.app = case.operation.app = service.service.app
    service.real_ids(case)
    operation = (case.method.upper(), case.operation.path)
    excluded = []
    if operation in SEMANTIC_400:
        excluded.append(positive_data_acceptance)
    if operation == NOTIFY:   # 501 by design, documented; any other 5xx still fails
        excluded.append(not_a_server_error)
    response = case.call_and_validate(excluded_checks=excluded)
    allowed = {501} if operation == NOTIFY else set()
    assert response.status_code < 500 or response.status_code in allowed, response.text


def test_every_operation_of_the_document_is_tested():
    operations = {(op.ok().method.upper(), op.ok().path) for op in SCHEMA.get_all_operations()}
    document = openapi_document(__version__)["paths"]
    assert operations == {(m.upper(), p) for p, ops in document.items() for m in ops}
    assert len(operations) >= 16


# ---------------------------------------------------------------------- what it found, pinned

def test_what_schemathesis_found_stays_fixed(service):
    """Each of these was a disagreement between the document and the service."""
    client, infra_id = service.client, service.infra_id
    # an empty format was read as the default instead of refused (the enum forbids it)
    status, body, _ = client.get(f"/infrastructures/{infra_id}?format=")
    assert (status, body["message"]) == (
        400, "query parameter format: expected occopus or occo, got ''")
    # a query parameter no path reads was ignored, a mistyped one silently
    status, body, _ = client.get(f"/infrastructures/{infra_id}/events?limt=5")
    assert (status, body["message"]) == (
        400, "unknown query parameter 'limt': this path takes after, limit")
    status, body, _ = client.get("/infrastructures/?x=1")
    assert (status, body["message"]) == (
        400, "unknown query parameter 'x': this path takes none")
    # a method /health does not take was a 401 without the token, not its 405
    anonymous = Client(service.service.port, None)
    try:
        status, body, headers = anonymous.request("DELETE", "/health")
        assert (status, headers["allow"]) == (405, "GET, HEAD, OPTIONS"), body
        assert anonymous.request("DELETE", "/infrastructures/")[0] == 401
    finally:
        anonymous.close()
    # the document allowed scaleup by 0 and counts beyond instances.max_per_node
    status, doc, _ = client.get("/openapi.json")
    paths = doc["paths"]
    up = paths["/infrastructures/{infra_id}/scaleup/{node}/{count}"]["post"]["parameters"]
    to = paths["/infrastructures/{infra_id}/scaleto/{node}/{count}"]["post"]["parameters"]
    limit = service.service.occo.config.instance_limits.max_per_node
    assert [p["schema"] for p in up if p["name"] == "count"] == [
        {"type": "integer", "minimum": 1, "maximum": limit}]
    assert [p["schema"] for p in to if p["name"] == "count"] == [
        {"type": "integer", "minimum": 0, "maximum": limit}]
    status, body, _ = client.post(f"/infrastructures/{infra_id}/scaleto/app/{limit + 1}")
    assert status == 400 and f"limit of {limit} per node" in body["message"]
