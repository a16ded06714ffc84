"""The ec2 backend against a real EC2 API endpoint on loopback (moto's server): the
contract suite, tags, user-data, batching, and faults (credentials, permissions,
throttling, server errors, an endpoint that is down)."""

from __future__ import annotations

import base64
import json

import pytest
from ec2env import BROKEN, IMAGE, REGION, THROTTLED, FaultProxy, start_moto

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.contract import CloudHandlerContract, make_spec
from occo.cloudhandler.ec2 import USER_DATA_LIMIT, EC2CloudHandler
from occo.util import InputError, new_id, parse_credentials
from occo.util.testing import free_port


@pytest.fixture(scope="module")
def moto():
    server = start_moto()
    yield server
    server.stop()


def credentials(url: str, key: str, secret: str, **filters):
    return parse_credentials({"resource": [{"type": "ec2", "endpoint": url, **filters,
                                            "auth_data": {"accesskey": key,
                                                          "secretkey": secret}}]},
                             source="test-auth_data.yaml")


def ec2_resource(url: str, **extra) -> dict:
    return {"type": "ec2", "endpoint": url, "regionname": REGION, "image_id": IMAGE,
            "instance_type": "t3.micro", **extra}


@pytest.fixture
def service(moto):
    svc = CloudHandlerService({"ec2": {"max_attempts": 3}},
                              credentials(moto.url, moto.access_key, moto.secret_key))
    yield svc
    svc.close()


class TestEC2Contract(CloudHandlerContract):
    """moto's EC2 server, judged by the contract suite."""

    timeout = 30.0

    @pytest.fixture
    def service(self, service):
        return service

    @pytest.fixture
    def resource(self, moto):
        return ec2_resource(moto.url)

    @pytest.fixture
    def bad_image_resource(self, moto):
        return ec2_resource(moto.url, image_id="ami-0123456789abcdef0")


def handler_of(service: CloudHandlerService, resource: dict) -> EC2CloudHandler:
    handler = service.handler_for(resource)
    assert isinstance(handler, EC2CloudHandler)
    return handler


def test_recreating_after_a_restart_returns_the_same_instance(moto, service):
    res = ec2_resource(moto.url)
    spec = make_spec(res, infra_id=new_id())
    first = service.create_node(spec)
    fresh = CloudHandlerService({}, credentials(moto.url, moto.access_key, moto.secret_key))
    again = fresh.create_node(spec)   # no memory of the first: found by its tag
    assert again["resource_id"] == first["resource_id"]
    found = moto.ec2().describe_instances(Filters=[
        {"Name": "tag:occo:instance_id", "Values": [spec["instance_id"]]}])
    assert sum(len(r["Instances"]) for r in found["Reservations"]) == 1
    service.drop_node(first)


def test_tags_user_data_and_parameters_reach_the_instance(moto, service):
    infra = new_id()
    res = ec2_resource(moto.url, tags={"team": "web"}, key_name="occo-key")
    moto.ec2().create_key_pair(KeyName="occo-key")
    user_data = "#cloud-config\nruncmd: [echo hello]\n"
    spec = make_spec(res, infra_id=infra, node="web", tags={"cost": "low"},
                     context={"type": "cloudinit", "user_data": user_data})
    ref = service.create_node(spec)
    ec2 = moto.ec2()
    inst = ec2.describe_instances(InstanceIds=[ref["resource_id"]])["Reservations"][0][
        "Instances"][0]
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags == {"Name": f"occo-web-{spec['instance_id'][:8]}", "team": "web",
                    "cost": "low", "occo:infra_id": infra, "occo:node": "web",
                    "occo:instance_id": spec["instance_id"]}
    assert inst["ImageId"] == IMAGE and inst["InstanceType"] == "t3.micro"
    assert inst["KeyName"] == "occo-key"
    attr = ec2.describe_instance_attribute(InstanceId=ref["resource_id"], Attribute="userData")
    assert base64.b64decode(attr["UserData"]["Value"]).decode() == user_data
    service.drop_node(ref)


def test_states_are_one_describe_call_per_round_for_many_instances(moto, service):
    res = ec2_resource(moto.url)
    handler = handler_of(service, res)
    infra = new_id()
    handler.calls.clear()
    results = service.create_nodes([make_spec(res, infra_id=infra, node=f"n{i}")
                                    for i in range(12)])
    refs = [r["ref"] for r in results]
    assert handler.calls["DescribeInstances"] == 1   # one lookup for the whole batch
    assert handler.calls["RunInstances"] == 12
    handler.calls.clear()
    states = service.get_states(refs)
    assert {s["state"] for s in states.values()} <= {"pending", "running"}
    states = service.get_states(refs)
    assert {s["state"] for s in states.values()} == {"running"}
    addresses = service.get_addresses(refs)   # answered from the last poll
    assert dict(handler.calls) == {"DescribeInstances": 2}
    assert all(a["addresses"] and a["private_addresses"] for a in addresses.values())
    assert service.drop_nodes(refs) == [{}] * 12
    assert handler.calls["TerminateInstances"] == 1
    states = service.get_states(refs)
    assert {s["state"] for s in states.values()} <= {"stopping", "terminated"}
    assert service.list_nodes(infra, [res]) == []


def test_user_data_over_16_kb_is_refused_before_any_call(moto, service):
    res = ec2_resource(moto.url)
    handler = handler_of(service, res)
    handler.calls.clear()
    big = "#cloud-config\n" + "x" * USER_DATA_LIMIT
    infra = new_id()
    with pytest.raises(InputError) as info:
        service.create_node(make_spec(res, infra_id=infra, node="fat",
                                      context={"type": "cloudinit", "user_data": big}))
    assert str(info.value) == (f"node 'fat': the cloud-init user-data is {len(big)} bytes; "
                               "EC2 accepts at most 16384 (16 KB)")
    assert info.value.exit_code == 2
    assert sum(handler.calls.values()) == 0
    assert service.list_nodes(infra, [res]) == []


def test_wrong_credentials_name_the_node_and_the_entry_but_no_secret(moto):
    res = ec2_resource(moto.url)
    bad = CloudHandlerService({"ec2": {"max_attempts": 2}},
                              credentials(moto.url, "AKIAOCCOWRONGKEY0001",
                                          "wrong-secret-do-not-show"))
    [result] = bad.create_nodes([make_spec(res, infra_id=new_id(), node="db")])
    error = result["error"]
    assert error["type"] == "CredentialsRejected" and error["exit_code"] == 2
    assert error["retryable"] is False
    text = error["text"]
    assert text.startswith("node 'db' (")
    assert (f"EC2 at {moto.url} (us-east-1) rejected the credentials of auth_data entry "
            f"resource[0] (type=ec2, endpoint={moto.url}) at "
            "test-auth_data.yaml") in text
    assert "AuthFailure" in text
    assert "wrong-secret-do-not-show" not in json.dumps(result)
    assert "AKIAOCCOWRONGKEY0001" not in json.dumps(result)


def test_an_action_the_credentials_may_not_do_is_permission_denied(moto):
    iam = moto.iam()
    iam.create_user(UserName="occo-weak")
    key = iam.create_access_key(UserName="occo-weak")["AccessKey"]
    weak = CloudHandlerService({}, credentials(moto.url, key["AccessKeyId"],
                                               key["SecretAccessKey"]))
    [result] = weak.create_nodes([make_spec(ec2_resource(moto.url), infra_id=new_id())])
    assert result["error"]["type"] == "PermissionDenied"
    assert result["error"]["retryable"] is False
    assert "may not describe_instances" in result["error"]["text"]


def test_no_matching_credentials_is_an_input_error(moto):
    svc = CloudHandlerService({}, credentials("https://elsewhere.example", "k", "secretvalue"))
    with pytest.raises(InputError) as info:
        svc.create_node(make_spec(ec2_resource(moto.url), infra_id="x", node="web"))
    assert "node 'web': no credential entry matches its resource section (type 'ec2')" in \
        str(info.value)
    missing = CloudHandlerService({}, parse_credentials(
        {"resource": [{"type": "ec2", "auth_data": {"username": "u"}}]}, source="a.yaml"))
    with pytest.raises(InputError, match=r"needs auth_data with accesskey and secretkey; the "
                                         r"matching entry resource\[0\] \(type=ec2\)"):
        missing.create_node(make_spec(ec2_resource(moto.url), infra_id="x"))


@pytest.fixture
def proxy(moto):
    fault = FaultProxy(moto.url)
    yield fault
    fault.close()


def proxied(moto, proxy, attempts: int = 3) -> tuple[CloudHandlerService, dict]:
    svc = CloudHandlerService({"ec2": {"max_attempts": attempts}},
                              credentials(proxy.url, moto.access_key, moto.secret_key))
    return svc, ec2_resource(proxy.url)


def test_throttling_is_retried_and_then_succeeds(moto, proxy):
    svc, res = proxied(moto, proxy, attempts=4)
    proxy.fail(2, THROTTLED, actions={"RunInstances"})
    infra = new_id()
    ref = svc.create_node(make_spec(res, infra_id=infra))
    assert proxy.faulted == ["RunInstances", "RunInstances"]
    assert proxy.seen.count("RunInstances") == 3
    assert [r["instance_id"] for r in svc.list_nodes(infra, [res])] == [ref["instance_id"]]
    svc.drop_node(ref)


def test_throttling_that_does_not_stop_is_a_retryable_error_after_bounded_attempts(moto,
                                                                                    proxy):
    svc, res = proxied(moto, proxy, attempts=3)
    proxy.fail(100, THROTTLED, actions={"RunInstances"})
    infra = new_id()
    [result] = svc.create_nodes([make_spec(res, infra_id=infra, node="busy")])
    assert result["error"]["type"] == "Throttled" and result["error"]["retryable"] is True
    assert "throttled run_instances after 3 attempts: RequestLimitExceeded" in \
        result["error"]["text"]
    assert proxy.seen.count("RunInstances") == 3   # bounded: max_attempts, no more
    proxy.fail(0)
    assert svc.list_nodes(infra, [res]) == []


def test_server_errors_are_retried_then_reported_retryable(moto, proxy):
    svc, res = proxied(moto, proxy, attempts=2)
    proxy.fail(100, BROKEN, actions={"DescribeInstances"})
    [result] = svc.create_nodes([make_spec(res, infra_id=new_id())])
    assert result["error"]["type"] == "CloudUnavailable" and result["error"]["retryable"]
    assert proxy.seen.count("DescribeInstances") == 2
    assert proxy.seen.count("RunInstances") == 0   # the lookup failed: nothing created


def test_an_endpoint_that_is_down_is_a_clear_retryable_error(moto):
    url = f"http://127.0.0.1:{free_port()}"   # nothing listens there
    svc = CloudHandlerService({"ec2": {"max_attempts": 2, "connect_timeout": 2}},
                              credentials(url, moto.access_key, moto.secret_key))
    res = ec2_resource(url)
    [result] = svc.create_nodes([make_spec(res, infra_id=new_id(), node="web")])
    error = result["error"]
    assert error["type"] == "CloudUnavailable" and error["retryable"] is True
    assert f"EC2 endpoint {url} (us-east-1) is unreachable after 2 attempts" in error["text"]
    handler = handler_of(svc, res)
    assert handler.attempts["DescribeInstances"] == 2
    ref = {"instance_id": new_id(), "infra_id": "x", "resource": res, "lookup": True}
    status = svc.get_states([ref])[ref["instance_id"]]
    assert status["state"] == "unknown" and "unreachable" in status["detail"]
    [dropped] = svc.drop_nodes([ref])
    assert dropped["error"]["retryable"] is True


def test_an_unknown_image_is_named(moto, service):
    res = ec2_resource(moto.url, image_id="ami-0000000000000beef")
    with pytest.raises(Exception) as info:
        service.create_node(make_spec(res, infra_id=new_id(), node="app"))
    assert type(info.value).__name__ == "ImageNotFound"
    assert "InvalidAMIID.NotFound" in str(info.value) and "node 'app'" in str(info.value)


def test_reserved_tags_and_docker_context_are_refused(moto, service):
    res = ec2_resource(moto.url, tags={"aws:cost": "x"})
    with pytest.raises(InputError, match="tag 'aws:cost': the prefixes aws: and occo: are "
                                         "reserved"):
        service.create_node(make_spec(res, infra_id="x"))
    with pytest.raises(InputError, match="contextualisation type 'docker' is for containers"):
        service.create_node(make_spec(ec2_resource(moto.url), infra_id="x",
                                      context={"type": "docker", "env": []}))


def test_one_client_per_endpoint_and_credentials(moto, service):
    a = service.handler_for(ec2_resource(moto.url))
    b = service.handler_for(ec2_resource(moto.url, image_id="ami-other"))
    assert a is b
    assert service.endpoint_key(ec2_resource(moto.url)) == f"ec2:{moto.url}|{REGION}"
