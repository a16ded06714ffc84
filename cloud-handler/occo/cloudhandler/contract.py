"""The contract test suite every cloud handler backend runs, so all are judged alike.

A backend's test module subclasses :class:`CloudHandlerContract` and provides three
pytest fixtures (and may override the hooks)::

    class TestDummyContract(CloudHandlerContract):
        @pytest.fixture
        def service(self):                 # a CloudHandlerService able to reach the cloud
            ...
        @pytest.fixture
        def resource(self):                # a resource section whose nodes reach running
            return {"type": "dummy"}
        @pytest.fixture
        def bad_image_resource(self):      # one the cloud refuses: no such image
            return {"type": "dummy", "image": "nope", "images": ["base"]}

Every test goes through :class:`~occo.cloudhandler.CloudHandlerService` with JSON-able
dicts, as the rest of OCCO does, and checks what the issue asks of every backend:
idempotent create and drop, batched states and addresses, OCCO's tags, ``list_nodes``,
lookup refs, errors that say whether to retry. The tests run under pytest, but this module
does not import it: the fixtures are the backend's, and ``infra_id`` is a fixture of
:func:`infra_id_fixture`, which a test package's conftest.py makes once
(``infra_id = pytest.fixture(infra_id_fixture)``).
Polling for a state uses a deadline (``timeout``), never a fixed sleep; a backend with a
simulated clock overrides :meth:`CloudHandlerContract.advance` instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from occo.util import TAG_INFRA, TAG_INSTANCE, TAG_NODE, new_id
from occo.util.testing import wait_until

from .service import CloudHandlerService

__all__ = ["CloudHandlerContract", "infra_id_fixture", "make_spec"]

SECRET_MARKERS = ("secretkey", "accesskey", "password", "auth_data")


def make_spec(resource: Mapping[str, Any], *, infra_id: str, node: str = "web",
              instance_id: str | None = None, tags: Mapping[str, str] | None = None,
              context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A NodeSpec in its dict form, as the service composer produces it."""
    return {"instance_id": instance_id or new_id(), "infra_id": infra_id, "node_name": node,
            "node_type": f"{node}_node", "resource": dict(resource), "context": context,
            "tags": dict(tags or {})}


def infra_id_fixture(service: CloudHandlerService,
                     resource: dict[str, Any]) -> Iterator[str]:
    """A fresh infrastructure id; whatever it still has afterwards is dropped. (The body of
    the contract's ``infra_id`` fixture: see the module's docstring.)"""
    infra = new_id()
    yield infra
    left = service.list_nodes(infra, [resource])
    if left:
        service.drop_nodes(left)


class CloudHandlerContract:
    """The tests every backend passes. Subclass it with the fixtures described above."""

    #: seconds a node may take to reach a state in this backend's tests
    timeout: ClassVar[float] = 30.0
    #: the states a node may show once dropped
    gone_states: ClassVar[frozenset[str]] = frozenset({"terminated", "missing", "stopping"})

    # ------------------------------------------------------------ hooks and fixtures

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass (a simulated clock moves; a real one is waited for)."""
        time.sleep(seconds)

    def wait_state(self, service: CloudHandlerService, refs: list[Mapping[str, Any]],
                   wanted: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = frozenset(wanted)

        def check() -> dict[str, dict[str, Any]] | None:
            states = service.get_states(refs)
            if all(states.get(r["instance_id"], {}).get("state") in wanted for r in refs):
                return states
            return None
        return wait_until(check, timeout=self.timeout, advance=self.advance,
                          what=f"states {sorted(wanted)}")

    # ------------------------------------------------------------------- the tests

    def test_create_returns_a_json_able_ref_without_credentials(self, service, resource,
                                                                 infra_id):
        spec = make_spec(resource, infra_id=infra_id)
        ref = service.create_node(spec)
        text = json.dumps(ref)
        assert json.loads(text) == ref
        assert ref["instance_id"] == spec["instance_id"] and ref["infra_id"] == infra_id
        assert ref["type"] == resource["type"] and ref["resource"]["type"] == resource["type"]
        assert ref["resource_id"] and ref["endpoint"] == service.endpoint_key(resource)
        for marker in SECRET_MARKERS:
            assert marker not in text.lower()

    def test_create_is_idempotent_on_the_instance_id(self, service, resource, infra_id):
        spec = make_spec(resource, infra_id=infra_id)
        first = service.create_node(spec)
        second = service.create_node(spec)
        [third] = service.create_nodes([spec])
        assert second["resource_id"] == first["resource_id"]
        assert third["ref"]["resource_id"] == first["resource_id"]
        listed = service.list_nodes(infra_id, [resource])
        assert [r["instance_id"] for r in listed] == [spec["instance_id"]]

    def test_node_reaches_running_and_has_addresses(self, service, resource, infra_id):
        ref = service.create_node(make_spec(resource, infra_id=infra_id))
        states = self.wait_state(service, [ref], {"running"})
        assert states[ref["instance_id"]]["state"] == "running"
        found = service.get_addresses([ref])[ref["instance_id"]]
        assert found["addresses"] and all(isinstance(a, str) for a in found["addresses"])
        assert isinstance(found["checkable"], bool)

    def test_states_and_addresses_are_batched_and_unknown_ids_are_missing(
            self, service, resource, infra_id):
        refs = [r["ref"] for r in service.create_nodes(
            [make_spec(resource, infra_id=infra_id, node=f"n{i}") for i in range(3)])]
        self.wait_state(service, refs, {"running"})
        ghost = {**refs[0], "instance_id": new_id(), "resource_id": "ghost-0", "lookup": True}
        ghost.pop("pid", None)
        states = service.get_states([*refs, ghost])
        assert {states[r["instance_id"]]["state"] for r in refs} == {"running"}
        assert states[ghost["instance_id"]]["state"] == "missing"
        addresses = service.get_addresses([*refs, ghost])
        assert set(addresses) == {r["instance_id"] for r in refs}
        assert len({a["addresses"][0] for a in addresses.values()}) == 3

    def test_resources_carry_occo_tags_and_the_users_tags(self, service, resource, infra_id):
        spec = make_spec(resource, infra_id=infra_id, node="db", tags={"team": "data"})
        service.create_node(spec)
        [listed] = service.list_nodes(infra_id, [resource])
        tags = listed["tags"]
        assert tags[TAG_INFRA] == infra_id and tags[TAG_NODE] == "db"
        assert tags[TAG_INSTANCE] == spec["instance_id"] and tags["team"] == "data"

    def test_list_nodes_sees_only_this_infrastructure(self, service, resource, infra_id):
        other = new_id()
        mine = service.create_node(make_spec(resource, infra_id=infra_id))
        theirs = service.create_node(make_spec(resource, infra_id=other))
        try:
            assert [r["instance_id"] for r in service.list_nodes(infra_id, [resource])] == \
                [mine["instance_id"]]
            assert [r["instance_id"] for r in service.list_nodes(other, [resource])] == \
                [theirs["instance_id"]]
        finally:
            service.drop_nodes([theirs])

    def test_drop_is_idempotent_and_the_node_is_gone(self, service, resource, infra_id):
        ref = service.create_node(make_spec(resource, infra_id=infra_id))
        self.wait_state(service, [ref], {"running"})
        assert service.drop_node(ref) == {}
        assert service.drop_node(ref) == {}
        assert service.drop_nodes([ref]) == [{}]
        self.wait_state(service, [ref], self.gone_states - {"stopping"})
        assert service.list_nodes(infra_id, [resource]) == []

    def test_dropping_one_node_leaves_the_rest_of_its_infrastructure(self, service, resource,
                                                                     infra_id):
        refs = [service.create_node(make_spec(resource, infra_id=infra_id, node=node))
                for node in ("db", "app", "app")]
        try:
            self.wait_state(service, refs, {"running"})
            assert service.drop_nodes([refs[1]]) == [{}]
            self.wait_state(service, [refs[1]], self.gone_states - {"stopping"})
            states = service.get_states([refs[0], refs[2]])
            assert [states[r["instance_id"]]["state"] for r in (refs[0], refs[2])] == \
                ["running", "running"]
            assert sorted(r["instance_id"] for r in service.list_nodes(infra_id, [resource])) \
                == sorted([refs[0]["instance_id"], refs[2]["instance_id"]])
        finally:
            service.drop_nodes(refs)

    def test_dropping_an_unknown_id_succeeds(self, service, resource, infra_id):
        ghost = {"instance_id": new_id(), "infra_id": infra_id, "resource": dict(resource),
                 "lookup": True}
        assert service.drop_node(ghost) == {}
        assert service.drop_nodes([ghost, dict(ghost, instance_id=new_id())]) == [{}, {}]

    def test_a_lookup_ref_finds_the_node_by_its_instance_id(self, service, resource, infra_id):
        spec = make_spec(resource, infra_id=infra_id)
        ref = service.create_node(spec)
        lookup = {"instance_id": spec["instance_id"], "infra_id": infra_id,
                  "resource": dict(resource), "lookup": True}
        self.wait_state(service, [lookup], {"running"})
        assert service.drop_nodes([lookup]) == [{}]
        self.wait_state(service, [ref], self.gone_states - {"stopping"})
        assert service.list_nodes(infra_id, [resource]) == []

    def test_unknown_image_is_refused_for_good_and_creates_nothing(
            self, service, resource, bad_image_resource, infra_id):
        spec = make_spec(bad_image_resource, infra_id=infra_id)
        [result] = service.create_nodes([spec])
        error = result["error"]
        assert error["type"] == "ImageNotFound" and error["retryable"] is False
        assert "web" in error["text"]
        assert service.list_nodes(infra_id, [resource, bad_image_resource]) == []

    def test_a_batch_reports_each_item(self, service, resource, infra_id):
        good = make_spec(resource, infra_id=infra_id)
        bad = make_spec({**resource, "type": "no-such-cloud"}, infra_id=infra_id, node="x")
        results = service.create_nodes([good, bad])
        assert results[0]["ref"]["instance_id"] == good["instance_id"]
        assert results[1]["error"]["exit_code"] == 2
        assert "unknown resource type 'no-such-cloud'" in results[1]["error"]["text"]
