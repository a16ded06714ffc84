"""CloudHandlerService: finding backends, choosing credentials, grouping batches, and
answering through an occo.util.comm endpoint with JSON only."""

from __future__ import annotations

import pytest

from occo.cloudhandler import CloudHandlerService, NoBackend
from occo.cloudhandler.contract import make_spec
from occo.cloudhandler.dummy import DummyCloudHandler
from occo.cloudhandler.ec2 import EC2CloudHandler
from occo.util import InputError, new_id, parse_credentials, scrub
from occo.util.comm import InProcessTransport, RemoteError
from occo.util.testing import free_port


@pytest.mark.parametrize("kind", ["cloudsigma", "azure_vm"])
def test_a_type_with_a_schema_but_no_backend_names_the_types_that_have_one(clock, kind):
    service = CloudHandlerService(clock=clock)
    with pytest.raises(NoBackend) as info:
        service.create_node(make_spec({"type": kind}, infra_id="i", node="web"))
    assert str(info.value) == (f"node 'web': no cloud handler is installed for resource type "
                               f"{kind!r}; types with a backend: docker, dummy, ec2, "
                               "local, nova")
    assert info.value.retryable is False


def test_an_unknown_or_missing_type_is_an_input_error(clock):
    service = CloudHandlerService(clock=clock)
    with pytest.raises(InputError) as info:
        service.create_node(make_spec({"type": "ec3"}, infra_id="i", node="db"))
    assert str(info.value) == ("node 'db': unknown resource type 'ec3'; types with a backend: "
                               "docker, dummy, ec2, local, nova")
    with pytest.raises(InputError, match="node 'db': the resource section has no 'type'"):
        service.create_node(make_spec({}, infra_id="i", node="db"))
    with pytest.raises(InputError, match="a node spec needs instance_id, infra_id, node_name"):
        service.create_node({"instance_id": "x", "resource": {"type": "dummy"}})


def test_handlers_are_kept_per_endpoint_and_credentials(clock):
    creds = parse_credentials({"resource": [
        {"type": "ec2", "endpoint": "http://127.0.0.1:1", "auth_data": {
            "accesskey": "AKIA1111", "secretkey": "first-secret"}},
        {"type": "ec2", "endpoint": "http://127.0.0.1:2", "auth_data": {
            "accesskey": "AKIA2222", "secretkey": "second-secret"}}]}, source="auth.yaml")
    service = CloudHandlerService(credentials=creds, clock=clock)
    first = {"type": "ec2", "endpoint": "http://127.0.0.1:1", "regionname": "r",
             "image_id": "ami-1", "instance_type": "t"}
    second = {**first, "endpoint": "http://127.0.0.1:2"}
    a, b = service.handler_for(first), service.handler_for(second)
    assert isinstance(a, EC2CloudHandler) and a is not b
    assert service.handler_for({**first, "image_id": "ami-2"}) is a
    assert a.auth.index == 0 and b.auth.index == 1
    assert "first-secret" not in repr(a.auth) and scrub("first-secret") == "***"
    d1 = service.handler_for({"type": "dummy", "name": "x"})
    assert isinstance(d1, DummyCloudHandler) and d1.auth is None
    assert service.handler_for({"type": "dummy", "name": "x", "seed": 3}) is d1
    assert service.handler_for({"type": "dummy", "name": "y"}) is not d1
    assert service.endpoint_key(first) == "ec2:http://127.0.0.1:1|r"
    assert service.backends() == {"handlers": ["docker", "dummy", "ec2", "local", "nova"],
                                  "schemas": ["azure_aci", "azure_vm", "cloudbroker",
                                              "cloudsigma", "docker", "dummy", "ec2", "local",
                                              "nova"]}


def test_a_failing_endpoint_does_not_spoil_the_others(clock):
    url = f"http://127.0.0.1:{free_port()}"   # nothing listens
    creds = parse_credentials({"resource": [{"type": "ec2", "auth_data": {
        "accesskey": "AKIA3333", "secretkey": "third-secret"}}]}, source="auth.yaml")
    service = CloudHandlerService({"ec2": {"max_attempts": 1}}, creds, clock=clock)
    dummy = service.create_node(make_spec({"type": "dummy"}, infra_id="i"))
    down = {"instance_id": new_id(), "infra_id": "i", "lookup": True,
            "resource": {"type": "ec2", "endpoint": url, "regionname": "r", "image_id": "a",
                         "instance_type": "t"}}
    broken = {"instance_id": "no-resource", "infra_id": "i"}
    states = service.get_states([dummy, down, broken])
    assert states[dummy["instance_id"]] == {"state": "running", "raw": "running"}
    assert states[down["instance_id"]]["state"] == "unknown"
    assert "is unreachable after 1 attempts" in states[down["instance_id"]]["detail"]
    assert states["no-resource"]["state"] == "unknown"
    assert "has no resource section" in states["no-resource"]["detail"]
    addresses = service.get_addresses([dummy, down, broken])
    assert list(addresses) == [dummy["instance_id"]]
    results = service.drop_nodes([dummy, down, broken])
    assert results[0] == {} and results[1]["error"]["retryable"] is True
    assert results[2]["error"]["exit_code"] == 2


def test_list_nodes_without_resources_asks_the_endpoints_already_used(clock):
    service = CloudHandlerService(clock=clock)
    a = service.create_node(make_spec({"type": "dummy", "name": "a"}, infra_id="inf"))
    b = service.create_node(make_spec({"type": "dummy", "name": "b"}, infra_id="inf"))
    assert sorted(r["instance_id"] for r in service.list_nodes("inf")) == \
        sorted([a["instance_id"], b["instance_id"]])


def test_the_service_answers_through_a_comm_endpoint_in_json(tmp_path):
    service = CloudHandlerService({"local": {"root": str(tmp_path / "root")}})
    with InProcessTransport(check_json=True) as transport:
        transport.serve("cloudhandler", service)
        client = transport.client("cloudhandler")
        infra = new_id()
        specs = [make_spec({"type": "dummy", "create_latency": 0}, infra_id=infra),
                 make_spec({"type": "cloudsigma"}, infra_id=infra, node="old")]
        created = client.call("create_nodes", specs=specs, timeout=30)
        ref = created[0]["ref"]
        assert created[1]["error"]["type"] == "NoBackend"
        assert client.call("get_states", refs=[ref], timeout=30)[ref["instance_id"]][
            "state"] == "running"
        assert client.call("get_addresses", refs=[ref], timeout=30)[ref["instance_id"]][
            "checkable"] is False
        assert [r["instance_id"] for r in client.call(
            "list_nodes", infra_id=infra, resources=[{"type": "dummy"}], timeout=30)] == \
            [ref["instance_id"]]
        assert client.call("endpoint_key", resource={"type": "dummy"}, timeout=30) == \
            "dummy:default"
        assert client.call("drop_nodes", refs=[ref], timeout=30) == [{}]
        assert client.call("drop_node", ref=ref, timeout=30) == {}
        with pytest.raises(RemoteError) as info:
            client.call("create_node", spec=make_spec({"type": "zzz"}, infra_id=infra),
                        timeout=30)
        assert info.value.exit_code == 2 and info.value.retryable is False
        assert "unknown resource type 'zzz'" in str(info.value)
    service.close()


def test_preflight_checks_backend_and_credentials_before_anything_is_created():
    from occo.cloudhandler import CloudHandlerService
    from occo.util import InputError, credentials_from_text

    ec2 = {"type": "ec2", "endpoint": "http://127.0.0.1:9", "regionname": "r",
           "image_id": "ami-1", "instance_type": "t3.micro"}
    bare = CloudHandlerService()
    with pytest.raises(InputError, match="node 'master': its resource section \\(type 'ec2'\\) "
                                         "needs credentials"):
        bare.preflight(ec2, node="master")
    with pytest.raises(InputError, match="unknown resource type 'ec3'; types with a backend"):
        bare.preflight({"type": "ec3"}, node="master")
    assert bare.preflight({"type": "dummy"}, node="db") == bare.endpoint_key({"type": "dummy"})
    creds = credentials_from_text("resource:\n  - type: ec2\n    auth_data: "
                                  "{accesskey: AKIAX, secretkey: very-secret-key}\n")
    assert CloudHandlerService(credentials=creds).preflight(ec2, node="master") \
        .startswith("ec2")


def test_the_service_is_the_cloudhandler_endpoint_of_the_contract():
    from occo.util.comm import CloudHandlerEndpoint, methods_of
    service = CloudHandlerService()
    assert isinstance(service, CloudHandlerEndpoint)
    assert service.RPC_METHODS == methods_of(CloudHandlerEndpoint)
