"""Build, maintain, scale, heal and destroy on a real OpenStack on loopback
(occo.cloudhandler.testing.openstackenv: keystone, glance, neutron, nova with the fake
virt driver).

Occopus's nova-helloworld and nova-ping tutorials (the optional corpus of
``OCCO_TUTORIALS``) are copied unchanged except for the placeholders of their resource
sections, which a user replaces with their cloud's values (endpoint, project, image,
network, flavor, key pair, security group, floating IP pool): health checks, variables,
contextualisation and dependencies are the files' own. Occopus's default health check
pings each node; the test cloud's subnets are in 127.0.0.0/8, so the servers' fixed and
floating addresses answer on the host's loopback and the pings get real replies.

Then a three-tier description of these tests' own (db, apps that getip the db, an lb that
getip the apps) is scaled up and down, and maintenance replaces a server deleted behind
OCCO's back and one nova put in ERROR.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
import yaml
from e2e import Setup, nova_auth_data, nova_resource, nova_servers, write_description

from occo.util.testing import tutorials, tutorials_missing, wait_until

TUTORIALS = tutorials()
needs_tutorials = pytest.mark.skipif(TUTORIALS is None, reason=str(tutorials_missing()))

# the cloud takes a minute to start: the full run only, not the fast run on other Pythons
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]

NOVA_PROCESSING = {"poll_interval": 0.5, "create_timeout": 120, "health_timeout": 60}


@pytest.fixture
def setup(tmp_path, openstack_cloud):
    s = Setup(tmp_path, auth_data=nova_auth_data(tmp_path, openstack_cloud))
    s.write_config(processing=NOVA_PROCESSING)
    return s


def placeholders(cloud) -> dict[str, str]:
    """What a user writes over each placeholder of the tutorials' nova resources."""
    return {
        "replace_with_endpoint_of_nova_interface_of_your_cloud": cloud.auth_url,
        "replace_with_projectid_to_use": cloud.project_id,
        "replace_with_id_of_your_image_on_your_target_cloud": cloud.image_id,
        "replace_with_id_of_network_on_your_target_cloud": cloud.network_id,
        "replace_with_id_of_the_flavor_on_your_target_cloud": cloud.flavor,
        "replace_with_name_of_keypair_or_remove": cloud.keypair,
        "replace_with_security_group_to_add_or_remove_section": cloud.security_group,
        "add_yes_if_you_need_floating_ip_or_remove": "yes",
        "replace_with_name_of_floating_ip_pool_or_remove": cloud.floating_pool,
    }


def pointed_tutorial(name: str, cloud, directory: Path) -> Path:
    """The tutorial copied to ``directory`` with its resource placeholders filled in."""
    assert TUTORIALS is not None
    target = directory / name
    shutil.copytree(TUTORIALS / name, target)
    definitions = target / "nodes" / "node_definitions.yaml"
    text = definitions.read_text()
    for placeholder, value in placeholders(cloud).items():
        text = text.replace(placeholder, value)
    assert "replace_with" not in text and "add_yes" not in text, text
    definitions.write_text(text)
    (infra,) = target.glob("infra-*.yaml")
    return infra


def user_data(cloud, server_id: str) -> str:
    """The user data nova holds for a server (an admin-only field)."""
    admin = cloud.admin()
    try:
        server = admin.compute.get_server(server_id)
        return base64.b64decode(server.user_data or "").decode()
    finally:
        admin.close()


def occo_floating_ips(cloud, infra_id: str) -> list:
    admin = cloud.admin()
    try:
        return [ip for ip in admin.network.ips()
                if f"occo:infra_id={infra_id}" in (ip.tags or [])]
    finally:
        admin.close()


def by_node(servers) -> dict[str, list]:
    out: dict[str, list] = {}
    for server in servers:
        node = next(t.partition("=")[2] for t in server.tags if t.startswith("occo:node="))
        out.setdefault(node, []).append(server)
    return out


def wait_gone(cloud, infra_id: str, timeout: float = 60.0) -> None:
    """After a destroy: nova removes the servers OCCO deleted (asynchronously)."""
    wait_until(lambda: nova_servers(cloud, infra_id) == [], timeout=timeout,
               what="nova to remove the infrastructure's servers")


def servers_settle(occo, cloud, infra_id: str, node: str, timeout: float = 60.0) -> list:
    """The node's servers once nova lists exactly the ones the store holds (nova deletes
    asynchronously: a server OCCO dropped is listed until nova has removed it)."""
    seen: list = []

    def settled():
        wanted = {i.resource["resource_id"] for i in occo.store.list_instances(infra_id, node)}
        listed = by_node(nova_servers(cloud, infra_id)).get(node, [])
        seen[:] = [sorted(wanted), sorted((s.id, s.status) for s in listed)]
        return listed if {s.id for s in listed} == wanted else None
    try:
        return wait_until(settled, timeout=timeout, what=f"nova's {node} servers as stored")
    except AssertionError as err:
        raise AssertionError(f"{err}: stored {seen[0]}, nova lists {seen[1]}") from None


# ------------------------------------------------------------------ Occopus's tutorials

@needs_tutorials
def test_nova_helloworld_tutorial(setup, openstack_cloud, tmp_path):
    infra = pointed_tutorial("nova-helloworld", openstack_cloud, tmp_path / "d")
    with setup.occo() as occo:
        result = occo.build(infra)
        assert result["status"] == "ready", result
        infra_id = result["infra_id"]
        [server] = nova_servers(openstack_cloud, infra_id)
        [instance] = occo.store.list_instances(infra_id)
        assert server.id == instance.resource["resource_id"]
        assert server.status == "ACTIVE" and server.key_name == openstack_cloud.keypair
        assert server.name.startswith("myhelloworld")
        # the cloud-init file of the tutorial, rendered with the node's variable
        data = user_data(openstack_cloud, server.id)
        assert data.startswith("#cloud-config")
        assert "Hello World! I have been created by Occopus" in data
        # floating_ip: yes -> a floating IP from the pool, tagged, shown on the server
        [fip] = occo_floating_ips(openstack_cloud, infra_id)
        assert fip.floating_ip_address in instance.addresses
        assert fip.floating_ip_address.startswith("127.78.0.")
        # maintenance of a healthy infrastructure changes nothing
        assert occo.maintain_once(infra_id)["created"] == 0
        assert [s.id for s in nova_servers(openstack_cloud, infra_id)] == [server.id]
        assert occo.destroy(infra_id)["status"] == "destroyed"
        wait_gone(openstack_cloud, infra_id)
        assert occo_floating_ips(openstack_cloud, infra_id) == []


@needs_tutorials
def test_nova_ping_tutorial_sender_is_given_the_receivers_address(setup, openstack_cloud,
                                                                 tmp_path):
    infra = pointed_tutorial("nova-ping", openstack_cloud, tmp_path / "d")
    with setup.occo() as occo:
        result = occo.build(infra)
        assert result["status"] == "ready", result
        infra_id = result["infra_id"]
        servers = by_node(nova_servers(openstack_cloud, infra_id))
        [receiver], [sender] = servers["ping-receiver"], servers["ping-sender"]
        [receiver_instance] = occo.store.list_instances(infra_id, "ping-receiver")
        address = receiver_instance.addresses[0]
        assert address.startswith("127.7")
        # the sender was created after the receiver was healthy, with its address rendered
        data = user_data(openstack_cloud, sender.id)
        assert f"ping {address} -c 5 > /tmp/ping-result.txt" in data
        assert "I am the sender node" in data
        assert "I am the receiver node" in user_data(openstack_cloud, receiver.id)
        assert occo.destroy(infra_id)["status"] == "destroyed"
        wait_gone(openstack_cloud, infra_id)
        assert occo_floating_ips(openstack_cloud, infra_id) == []


# ------------------------------------------------------------------ three tiers of our own

def three_tier(directory: Path, cloud) -> Path:
    def node(role: str, template: str) -> dict:
        return {"resource": nova_resource(cloud, server_name=f"tier-{role}"),
                "contextualisation": {"type": "cloudinit",
                                      "context_template": "#cloud-config\nwrite_files:\n"
                                      f"- path: /etc/{role}.conf\n  content: \"{template}\"\n"}}
    return write_description(directory, "nova-three-tier", {
        "db": {"type": "db_t"},
        "app": {"type": "app_t", "scaling": {"min": 2, "max": 4}},
        "lb": {"type": "lb_t"}},
        [("app", "db"), ("lb", "app")],
        {"db_t": [node("db", "db")],
         "app_t": [node("app", "db={{ getip('db') }}")],
         "lb_t": [node("lb", "apps={{ getipall('app') | join(',') }}")]})


def test_three_tiers_pass_addresses_scale_and_heal(setup, openstack_cloud, tmp_path):
    cloud = openstack_cloud
    with setup.occo() as occo:
        result = occo.build(three_tier(tmp_path / "d", cloud))
        assert result["status"] == "ready", result
        infra_id = result["infra_id"]
        servers = by_node(nova_servers(cloud, infra_id))
        assert {n: len(s) for n, s in servers.items()} == {"db": 1, "app": 2, "lb": 1}
        [db] = occo.store.list_instances(infra_id, "db")
        db_ip = db.addresses[0]
        assert db_ip.startswith("127.77.0.")
        for app in servers["app"]:
            assert f'content: "db={db_ip}"' in user_data(cloud, app.id)
        app_ips = sorted(i.addresses[0] for i in occo.store.list_instances(infra_id, "app"))
        lb_data = user_data(cloud, servers["lb"][0].id)
        assert sorted(lb_data.split("apps=")[1].split('"')[0].split(",")) == app_ips

        # scaling up and down: servers are created and deleted in nova
        assert occo.scale(infra_id, "app", change=+2)["outcome"]["created"] == 2
        assert len(by_node(nova_servers(cloud, infra_id))["app"]) == 4
        assert occo.scale(infra_id, "app", change=-1)["outcome"]["dropped"] == 1
        apps = servers_settle(occo, cloud, infra_id, "app")
        assert len(apps) == 3

        # heal: a server deleted behind OCCO's back, and one nova puts in ERROR
        deleted, broken = apps[0], apps[1]
        admin = cloud.admin()
        try:
            admin.compute.delete_server(deleted.id)
            admin.compute.reset_server_state(broken.id, "error")
            wait_until(lambda: admin.compute.get_server(broken.id).status == "ERROR",
                       timeout=30, what="the server in ERROR")
        finally:
            admin.close()
        outcome = occo.maintain_once(infra_id)
        assert outcome["created"] == 2, outcome
        apps = servers_settle(occo, cloud, infra_id, "app")
        assert len(apps) == 3 and {deleted.id, broken.id}.isdisjoint({s.id for s in apps})
        assert all(s.status == "ACTIVE" for s in apps)
        failures = [e for e in occo.events(infra_id) if e["type"] == "node.failed"]
        assert failures, "maintenance replaced the servers without recording their failure"

        assert occo.destroy(infra_id)["status"] == "destroyed"
        wait_gone(cloud, infra_id)


def test_a_wrong_password_is_named_by_its_auth_entry_and_creates_nothing(openstack_cloud,
                                                                     tmp_path):
    auth = tmp_path / "auth_data.yaml"
    auth.write_text(yaml.safe_dump({"resource": [
        {"type": "nova", "endpoint": openstack_cloud.auth_url,
         "auth_data": {"username": openstack_cloud.username, "password": "not-it"}}]}))
    setup = Setup(tmp_path, auth_data=auth)
    setup.write_config(processing=NOVA_PROCESSING)
    infra = three_tier(tmp_path / "d", openstack_cloud)
    proc = setup.cli("build", str(infra))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "rejected the credentials of auth_data entry resource[0]" in proc.stderr
    assert f"{auth}:2" in proc.stderr          # the file and line of the entry
    assert "not-it" not in proc.stdout + proc.stderr
    with setup.occo() as occo:
        for record in occo.list():
            assert nova_servers(openstack_cloud, record["infra_id"]) == []
