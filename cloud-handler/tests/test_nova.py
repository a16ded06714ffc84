"""The nova backend against a real OpenStack control plane on loopback
(occo.cloudhandler.testing.openstackenv): the contract suite, adoption by tag, one list
call per poll, fixed addresses, and faults (credentials, unknown image, flavor and network, a server
that goes to ERROR)."""

from __future__ import annotations

import base64
import datetime
import json
import time

import pytest

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.contract import CloudHandlerContract, make_spec
from occo.cloudhandler.nova import NovaCloudHandler, untag
from occo.util import new_id, parse_credentials
from occo.util.testing import free_port, wait_until

TIMEOUT = 90.0
# openstacksdk 4.22 warns about its own internals (RemovedInSDK50Warning, ...)
# slow: the cloud takes a minute to start, so the other Pythons' fast runs leave it out
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]


def credentials(cloud, **auth):
    data = auth or {"username": cloud.username, "password": cloud.password}
    return parse_credentials({"resource": [{"type": "nova", "endpoint": cloud.auth_url,
                                            "auth_data": data}]},
                             source="test-auth_data.yaml")


def nova_resource(cloud, **extra) -> dict:
    return {"type": "nova", "endpoint": cloud.auth_url, "project_id": cloud.project_id,
            "image_id": cloud.image, "flavor_name": cloud.flavor,
            "network_id": cloud.network, **extra}


@pytest.fixture
def resource(openstack_cloud):
    return nova_resource(openstack_cloud)


@pytest.fixture
def service(openstack_cloud):
    svc = CloudHandlerService({}, credentials(openstack_cloud))
    yield svc
    svc.close()


def handler_of(service: CloudHandlerService, resource: dict) -> NovaCloudHandler:
    handler = service.handler_for(resource)
    assert isinstance(handler, NovaCloudHandler)
    return handler


def wait_states(service, refs, wanted, timeout: float = TIMEOUT):
    def check():
        states = service.get_states(refs)
        if all(states[r["instance_id"]]["state"] in wanted for r in refs):
            return states
        return None
    return wait_until(check, timeout=timeout, what=f"states {sorted(wanted)}")


class TestNovaContract(CloudHandlerContract):
    """A real nova (fake virt driver), judged by the contract suite."""

    timeout = TIMEOUT

    @pytest.fixture
    def service(self, service):
        return service

    @pytest.fixture
    def resource(self, openstack_cloud):
        return nova_resource(openstack_cloud)

    @pytest.fixture
    def bad_image_resource(self, openstack_cloud):
        return nova_resource(openstack_cloud, image_id="no-such-image")


def test_recreating_after_a_restart_adopts_the_server_by_its_tag(openstack_cloud, service,
                                                                 infra_id):
    res = nova_resource(openstack_cloud)
    spec = make_spec(res, infra_id=infra_id)
    first = service.create_node(spec)
    fresh = CloudHandlerService({}, credentials(openstack_cloud))
    try:
        again = fresh.create_node(spec)     # no memory of the first: found by its tag
        handler = handler_of(fresh, res)
        assert handler.calls["create server"] == 0
    finally:
        fresh.close()
    assert again["resource_id"] == first["resource_id"]
    admin = openstack_cloud.admin()
    found = list(admin.compute.servers(all_projects=True,
                                       tags=f"occo:instance_id={spec['instance_id']}"))
    assert [s.id for s in found] == [first["resource_id"]]
    admin.close()


def test_tags_name_and_user_data_reach_the_server(openstack_cloud, service, infra_id):
    res = nova_resource(openstack_cloud, server_name="occo-named")
    user_data = "#cloud-config\nruncmd: [echo hello]\n"
    spec = make_spec(res, infra_id=infra_id, node="web", tags={"cost": "low"},
                     context={"type": "cloudinit", "user_data": user_data})
    ref = service.create_node(spec)
    admin = openstack_cloud.admin()
    server = admin.compute.get_server(ref["resource_id"])
    assert sorted(server.tags) == sorted([
        "cost=low", f"occo:infra_id={infra_id}", "occo:node=web",
        f"occo:instance_id={spec['instance_id']}"])
    assert untag(server.tags)["occo:instance_id"] == spec["instance_id"]
    assert server.name == "occo-named"
    assert server.flavor["original_name"] == openstack_cloud.flavor
    assert server.image["id"] == openstack_cloud.image_id
    assert base64.b64decode(server.user_data).decode() == user_data   # admin may read it
    admin.close()


def test_one_list_call_per_poll_for_many_servers(openstack_cloud, service, infra_id):
    res = nova_resource(openstack_cloud)
    handler = handler_of(service, res)
    service.get_states([{"instance_id": new_id(), "infra_id": infra_id, "resource": res,
                         "lookup": True}])      # the lookups of names are cached after it
    results = service.create_nodes([make_spec(res, infra_id=infra_id, node=f"n{i}")
                                    for i in range(4)])
    refs = [r["ref"] for r in results]
    handler.requests.clear()
    states = service.get_states(refs)
    assert set(states) == {r["instance_id"] for r in refs}
    assert dict(handler.requests) == {"GET servers": 1}
    wait_states(service, refs, {"running"})
    handler.requests.clear()
    states = service.get_states(refs)
    addresses = service.get_addresses(refs)       # answered from the poll's list
    assert {s["state"] for s in states.values()} == {"running"}
    assert dict(handler.requests) == {"GET servers": 1}
    assert all(a["private_addresses"] for a in addresses.values())
    handler.requests.clear()
    assert service.drop_nodes(refs) == [{}] * 4
    assert handler.requests["GET servers"] == 1 and handler.requests["DELETE servers"] == 4


def test_addresses_are_fixed_ips_of_the_private_network(openstack_cloud, service, infra_id):
    res = nova_resource(openstack_cloud)
    ref = service.create_node(make_spec(res, infra_id=infra_id))
    wait_states(service, [ref], {"running"})
    found = service.get_addresses([ref])[ref["instance_id"]]
    [address] = found["addresses"]
    assert address.startswith("127.77.0.") and found["private_addresses"] == [address]
    assert found["checkable"] is True
    admin = openstack_cloud.admin()
    ports = list(admin.network.ports(device_id=ref["resource_id"]))
    assert [ip["ip_address"] for p in ports for ip in p.fixed_ips] == [address]
    admin.close()


def test_dropping_twice_succeeds_and_the_server_goes(openstack_cloud, service, infra_id):
    res = nova_resource(openstack_cloud)
    ref = service.create_node(make_spec(res, infra_id=infra_id))
    assert service.drop_node(ref) == {}
    assert service.drop_node(ref) == {}
    wait_states(service, [ref], {"missing"})
    assert service.drop_node(ref) == {}


def test_a_wrong_password_names_the_entry_but_no_secret(openstack_cloud, infra_id):
    res = nova_resource(openstack_cloud)
    bad = CloudHandlerService({}, credentials(openstack_cloud, username="demo",
                                              password="wrong-pw-do-not-show"))
    [result] = bad.create_nodes([make_spec(res, infra_id=infra_id, node="db")])
    error = result["error"]
    assert error["type"] == "CredentialsRejected" and error["exit_code"] == 2
    assert error["retryable"] is False
    assert error["text"].startswith("node 'db' (")
    assert (f"OpenStack at {openstack_cloud.auth_url} (project {openstack_cloud.project_id}) "
            "rejected the credentials of auth_data entry resource[0] (type=nova, "
            f"endpoint={openstack_cloud.auth_url}) at test-auth_data.yaml") in error["text"]
    assert "wrong-pw-do-not-show" not in json.dumps(result)
    bad.close()


def test_an_application_credential_works(openstack_cloud, infra_id):
    res = nova_resource(openstack_cloud)
    svc = CloudHandlerService({}, credentials(
        openstack_cloud, type="application_credential", id=openstack_cloud.app_credential_id,
        secret=openstack_cloud.app_credential_secret))
    try:
        ref = svc.create_node(make_spec(res, infra_id=infra_id))
        wait_states(svc, [ref], {"running"})
        assert [r["instance_id"] for r in svc.list_nodes(infra_id, [res])] == \
            [ref["instance_id"]]
        assert svc.drop_node(ref) == {}
    finally:
        svc.close()


@pytest.mark.parametrize("key, value, kind, said", [
    ("image_id", "no-such-image", "ImageNotFound", "has no image 'no-such-image'"),
    ("flavor_name", "no.such.flavor", "BadResource", "has no flavor 'no.such.flavor'"),
    ("flavor_name", "42", "BadResource", "has no flavor '42'"),
    ("network_id", "no-such-net", "BadResource", "has no network 'no-such-net'"),
])
def test_an_unknown_name_is_named_and_nothing_is_created(openstack_cloud, service, infra_id,
                                                         key, value, kind, said):
    res = nova_resource(openstack_cloud, **{key: value})
    handler = handler_of(service, res)
    handler.calls.clear()
    [result] = service.create_nodes([make_spec(res, infra_id=infra_id, node="app")])
    error = result["error"]
    assert error["type"] == kind and error["retryable"] is False
    assert "node 'app'" in error["text"] and said in error["text"]
    assert handler.calls["create server"] == 0
    assert service.list_nodes(infra_id, [res]) == []


def huge_flavor(cloud, name: str, **size) -> str:
    admin = cloud.admin()
    try:
        admin.compute.find_flavor(name, ignore_missing=False)
    except Exception:
        admin.compute.create_flavor(name=name, is_public=True, **size)
    admin.close()
    return name


def test_a_server_that_cannot_be_placed_fails_with_the_fault(openstack_cloud, service,
                                                             infra_id):
    # within the project's quota, beyond the fake hypervisor's 600,000 GB of disk
    flavor = huge_flavor(openstack_cloud, "occo.huge-disk", ram=64, vcpus=1, disk=10_000_000)
    res = nova_resource(openstack_cloud, flavor_name=flavor)
    ref = service.create_node(make_spec(res, infra_id=infra_id))
    status = wait_states(service, [ref], {"failed"})[ref["instance_id"]]
    assert status["raw"] == "ERROR"
    assert "No valid host was found" in status["detail"]
    assert status["detail"].startswith(ref["resource_id"])
    assert service.drop_node(ref) == {}
    wait_states(service, [ref], {"missing"})


def test_a_flavor_beyond_the_quota_is_capacity_exceeded(openstack_cloud, service, infra_id):
    flavor = huge_flavor(openstack_cloud, "occo.huge-ram", ram=64 * 1024 * 1024, vcpus=1,
                         disk=1)
    res = nova_resource(openstack_cloud, flavor_name=flavor)
    [result] = service.create_nodes([make_spec(res, infra_id=infra_id, node="big")])
    error = result["error"]
    assert error["type"] == "CapacityExceeded" and error["retryable"] is False
    assert "node 'big'" in error["text"] and "Quota exceeded for ram" in error["text"]
    assert service.list_nodes(infra_id, [res]) == []


def test_a_floating_ip_is_allocated_shown_first_and_released_at_drop(openstack_cloud, service,
                                                                      infra_id):
    res = nova_resource(openstack_cloud, floating_ip_pool="public")
    ref = service.create_node(make_spec(res, infra_id=infra_id))
    wait_states(service, [ref], {"running"})
    found = service.get_addresses([ref])[ref["instance_id"]]
    floating, fixed = found["addresses"]
    assert floating.startswith("127.78.0.") and fixed.startswith("127.77.0.")
    assert found["private_addresses"] == [fixed]
    admin = openstack_cloud.admin()
    tagged = f"occo:instance_id={ref['instance_id']}"
    [fip] = list(admin.network.ips(tags=tagged))
    assert fip.floating_ip_address == floating and fip.fixed_ip_address == fixed
    assert service.get_states([ref])[ref["instance_id"]]["state"] == "running"
    assert len(list(admin.network.ips(tags=tagged))) == 1     # polling allocates no more
    assert service.drop_node(ref) == {}
    assert list(admin.network.ips(tags=tagged)) == []
    admin.close()


def test_an_unreachable_keystone_is_a_bounded_retryable_error(openstack_cloud, infra_id):
    url = f"http://127.0.0.1:{free_port()}/v3"      # nothing listens there
    res = {**nova_resource(openstack_cloud), "endpoint": url}
    creds = parse_credentials({"resource": [{"type": "nova", "endpoint": url, "auth_data": {
        "username": "demo", "password": "pw-never-shown"}}]}, source="down-auth_data.yaml")
    svc = CloudHandlerService({"nova": {"connect_retries": 1, "api_timeout": 2}}, creds)
    try:
        started = time.monotonic()
        [result] = svc.create_nodes([make_spec(res, infra_id=infra_id, node="web")])
        took = time.monotonic() - started
    finally:
        svc.close()
    error = result["error"]
    assert error["type"] == "CloudUnavailable" and error["retryable"] is True
    assert f"OpenStack at {url}" in error["text"] and "unreachable" in error["text"]
    assert "pw-never-shown" not in json.dumps(result)
    assert took < 30, took


def test_an_expired_application_credential_names_the_entry(openstack_cloud, infra_id):
    demo = openstack_cloud.demo()
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=3)
    credential = demo.identity.create_application_credential(
        user=demo.current_user_id, name=f"occo-expiring-{new_id()[:8]}",
        roles=[{"name": "member"}], expires_at=soon.strftime("%Y-%m-%dT%H:%M:%S"))
    demo.close()
    time.sleep(4)
    res = nova_resource(openstack_cloud)
    svc = CloudHandlerService({}, credentials(openstack_cloud, type="application_credential",
                                              id=credential.id, secret=credential.secret))
    try:
        [result] = svc.create_nodes([make_spec(res, infra_id=infra_id, node="web")])
    finally:
        svc.close()
    error = result["error"]
    assert error["type"] == "CredentialsRejected" and error["exit_code"] == 2
    assert "rejected the credentials of auth_data entry resource[0] (type=nova" in \
        error["text"]
    assert credential.secret not in json.dumps(result)
    assert no_server_of(openstack_cloud, infra_id)


def no_server_of(cloud, infra_id: str) -> bool:
    admin = cloud.admin()
    try:
        return list(admin.compute.servers(all_projects=True,
                                          tags=f"occo:infra_id={infra_id}")) == []
    finally:
        admin.close()


def empty_pool(cloud, name: str) -> str:
    """An external network whose one floating address is already taken (by admin)."""
    admin = cloud.admin()
    try:
        net = admin.network.find_network(name)
        if net is None:
            net = admin.network.create_network(name=name, is_router_external=True)
            admin.network.create_subnet(
                network_id=net.id, ip_version=4, cidr="198.51.100.0/29",
                gateway_ip="198.51.100.1",
                allocation_pools=[{"start": "198.51.100.2", "end": "198.51.100.2"}])
            admin.network.create_ip(floating_network_id=net.id)
    finally:
        admin.close()
    return name


def test_an_empty_floating_ip_pool_fails_the_node_with_neutrons_reason(openstack_cloud,
                                                                       service, infra_id):
    pool = empty_pool(openstack_cloud, "occo-empty-pool")
    res = nova_resource(openstack_cloud, floating_ip_pool=pool)
    ref = service.create_node(make_spec(res, infra_id=infra_id, node="edge"))
    status = wait_states(service, [ref], {"failed"})[ref["instance_id"]]
    assert status["detail"].startswith(f"{ref['resource_id']}: no floating IP from "
                                       f"{pool!r}: ")
    assert "No more IP addresses available" in status["detail"]
    assert service.drop_node(ref) == {}
    wait_states(service, [ref], {"missing"})
