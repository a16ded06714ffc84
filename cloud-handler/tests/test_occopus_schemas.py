"""The resource schemas equal Occopus 1.10's resource-handler checkers (req_keys, opt_keys
and perform_check of each ``*SchemaChecker``): every accepted form of every type, with
the form OCCO keeps, and every rejected form with its located message."""

from __future__ import annotations

import pytest

from occo.cloudhandler.schemas import OCCOPUS_TYPES, SCHEMAS
from occo.util import load_yaml_text

# The keys of Occopus 1.10's checkers: (required, optional), "type" left out.
OCCOPUS_KEYS = {
    "ec2": ({"endpoint", "regionname", "image_id", "instance_type"},
            {"key_name", "security_group_ids", "subnet_id", "name", "tags"}),
    "nova": ({"endpoint", "image_id", "flavor_name", "project_id"},
             {"server_name", "key_name", "security_groups", "floating_ip", "name",
              "tenant_name", "user_domain_name", "network_id", "floating_ip_pool",
              "region_name", "volume_size", "volume_persist"}),
    "docker": ({"endpoint", "origin", "network_mode", "image", "tag"}, {"name"}),
    "cloudsigma": ({"endpoint", "libdrive_id", "description"}, {"name"}),
    "cloudbroker": ({"endpoint", "description"}, {"name", "start_in_vpc"}),
    "azure_vm": ({"endpoint", "resource_group", "location", "vm_size", "publisher", "offer",
                  "sku", "version", "username"},
                 {"public_ip_needed", "vnet_name", "subnet_name", "customdata",
                  "server_name", "password", "ssh_key_data"}),
    "azure_aci": ({"endpoint", "resource_group", "location", "cpu_cores", "memory", "image",
                   "os_type", "network_type"},
                  {"gpu_type", "gpu_count", "ports", "vnet_name", "subnet_name"}),
}
# OCCO's own keys on Occopus's types (docs/user/compat/node-definitions.inc: Extension).
OCCO_EXTRA = {"docker": {"network", "tags"}, "azure_vm": {"name"}, "azure_aci": {"name"}}
# Required by Occopus, optional in OCCO (a row of the contract says why).
OCCO_OPTIONAL = {"docker": {"network_mode"}}

MINIMAL = {
    "ec2": "type: ec2\nendpoint: https://ec2.example\nregionname: eu-west-1\n"
           "image_id: ami-1\ninstance_type: t3.small\n",
    "nova": "type: nova\nendpoint: https://keystone.example:5000\nimage_id: img-1\n"
            "flavor_name: m1.small\nproject_id: p1\n",
    "docker": "type: docker\nendpoint: unix:///var/run/docker.sock\norigin: dockerhub\n"
              "network_mode: bridge\nimage: nginx\ntag: latest\n",
    "cloudsigma": "type: cloudsigma\nendpoint: https://zrh.cloudsigma.com/api/2.0\n"
                  "libdrive_id: d-1\ndescription: {cpu: 2000, mem: 1073741824, "
                  "vnc_password: secret}\n",
    "cloudbroker": "type: cloudbroker\nendpoint: https://cb.example/\n"
                   "description: {deployment_id: dep-1, instance_type_id: it-1}\n",
    "azure_vm": "type: azure_vm\nendpoint: https://management.azure.com\n"
                "resource_group: rg\nlocation: westeurope\nvm_size: Standard_B1s\n"
                "publisher: Canonical\noffer: UbuntuServer\nsku: 18.04-LTS\n"
                "version: latest\nusername: occo\npassword: s3cret\n",
    "azure_aci": "type: azure_aci\nendpoint: https://management.azure.com\n"
                 "resource_group: rg\nlocation: westeurope\ncpu_cores: 1\nmemory: 1.5\n"
                 "image: nginx\nos_type: Linux\nnetwork_type: Public\n",
}


def validate(text: str, rtype: str | None = None):
    data = load_yaml_text(text, source="defs.yaml")
    rtype = rtype or data["type"]
    return SCHEMAS[rtype].validate(data, "resource", ignore=("type",))


def accepted(text: str):
    checked = validate(text)
    assert checked.errors == [], [str(e) for e in checked.errors]
    return checked


def rejected(text: str) -> list[str]:
    checked = validate(text)
    assert checked.errors, "accepted"
    return [str(e) for e in checked.errors]


def test_every_occopus_type_has_a_schema():
    assert OCCOPUS_TYPES == set(OCCOPUS_KEYS)
    assert OCCOPUS_TYPES <= set(SCHEMAS)


@pytest.mark.parametrize("rtype", sorted(OCCOPUS_KEYS))
def test_the_keys_are_occopus_s(rtype):
    required, optional = OCCOPUS_KEYS[rtype]
    schema = SCHEMAS[rtype]
    ours_required = {f.name for f in schema.fields if f.required} - {"type"}
    ours_optional = {f.name for f in schema.fields if not f.required}
    assert ours_required == required - OCCO_OPTIONAL.get(rtype, set())
    assert ours_optional == optional | OCCO_EXTRA.get(rtype, set()) \
        | OCCO_OPTIONAL.get(rtype, set())


@pytest.mark.parametrize("rtype", sorted(MINIMAL))
def test_the_minimal_section_is_accepted(rtype):
    assert accepted(MINIMAL[rtype]).warnings == []


@pytest.mark.parametrize("rtype", sorted(MINIMAL))
def test_each_required_key_missing_is_refused(rtype):
    data = load_yaml_text(MINIMAL[rtype], source="defs.yaml")
    for key in OCCOPUS_KEYS[rtype][0] - OCCO_OPTIONAL.get(rtype, set()):
        rest = {k: v for k, v in data.items() if k != key}
        [problem] = SCHEMAS[rtype].validate(rest, "resource").errors
        assert f"resource: missing required key {key!r} ({rtype} resource" in str(problem)


@pytest.mark.parametrize("rtype", sorted(MINIMAL))
def test_a_misspelt_key_is_located_with_did_you_mean(rtype):
    [problem] = rejected(MINIMAL[rtype] + "endpont: x\n")
    line = MINIMAL[rtype].count("\n") + 1
    assert problem == (f"defs.yaml:{line}:1: resource.endpont: unknown key 'endpont' in "
                       f"{rtype} resource; did you mean 'endpoint'?")


@pytest.mark.parametrize("rtype", sorted(set(MINIMAL) - {"azure_vm", "azure_aci"}))
def test_optional_name_given_as_null_is_not_set(rtype):
    checked = accepted(MINIMAL[rtype] + "name: null\n")
    assert "name" not in checked.value


# --- ec2 ---------------------------------------------------------------------------

def test_ec2_optional_keys_and_their_forms():
    checked = accepted(MINIMAL["ec2"] + "key_name: k\nsecurity_group_ids: [sg-1, sg-2]\n"
                                        "subnet_id: null\ntags: {team: a}\nname: aws\n")
    assert checked.value["security_group_ids"] == ["sg-1", "sg-2"]
    assert "subnet_id" not in checked.value


def test_ec2_a_numeric_id_is_kept_as_its_text():
    assert accepted(MINIMAL["ec2"].replace("ami-1", "12345")).value["image_id"] == "12345"


@pytest.mark.parametrize("extra, message", [
    ("security_group_ids: sg-1\n", "defs.yaml:6:21: resource.security_group_ids: must be a "
                                   "list of strings, got 'sg-1'"),
    ("tags: [a]\n", "defs.yaml:6:7: resource.tags: must be a mapping, got a list"),
    ("user_data: x\n", "defs.yaml:6:1: resource.user_data: unknown key 'user_data' in ec2 "
                       "resource; valid keys:"),
])
def test_ec2_rejected_forms(extra, message):
    [problem] = rejected(MINIMAL["ec2"] + extra)
    assert problem.startswith(message), problem


# --- nova --------------------------------------------------------------------------

def test_nova_an_integer_flavor_name_is_kept_as_the_name():
    checked = accepted(MINIMAL["nova"].replace("m1.small", "2"))
    assert checked.value["flavor_name"] == "2"


@pytest.mark.parametrize("size, kept", [(10, 10), ("'20'", 20), (0, 0), ("'0'", 0),
                                         (30.0, 30)])
def test_nova_volume_size_forms(size, kept):
    checked = accepted(MINIMAL["nova"] + f"volume_size: {size}\nvolume_persist: true\n")
    assert checked.value["volume_size"] == kept


@pytest.mark.parametrize("size, message", [
    (-1, "resource.volume_size: must be an integer >= 0, got -1"),
    ("'-5'", "resource.volume_size: must be an integer >= 0, got -5"),
    ("ten", "resource.volume_size: must be an integer >= 0, got 'ten'"),
    (2.5, "resource.volume_size: must be an integer >= 0, got 2.5"),
])
def test_nova_volume_size_rejected(size, message):
    [problem] = rejected(MINIMAL["nova"] + f"volume_size: {size}\n")
    assert problem == f"defs.yaml:6:14: {message}"


def test_nova_tenant_name_is_deprecated_with_a_warning_naming_project_id():
    checked = accepted(MINIMAL["nova"] + "tenant_name: old\n")
    assert checked.warnings == ["defs.yaml:6:1: resource.tenant_name: key 'tenant_name' of "
                                "the nova resource is deprecated; use 'project_id' instead"]


def test_nova_tenant_name_without_project_id_is_refused_as_occopus_does():
    text = MINIMAL["nova"].replace("project_id: p1\n", "tenant_name: old\n")
    [problem] = rejected(text)
    assert problem == ("defs.yaml:1:1: resource: missing required key 'project_id' (nova "
                       "resource: a string); 'tenant_name' is deprecated: write "
                       "'project_id' instead")


@pytest.mark.parametrize("value", ["true", "null", "false", "yes"])
def test_nova_floating_ip_with_any_value_is_kept(value):
    checked = accepted(MINIMAL["nova"] + f"floating_ip: {value}\n")
    assert "floating_ip" in checked.value


def test_nova_every_optional_key():
    accepted(MINIMAL["nova"] + "server_name: s\nkey_name: k\nsecurity_groups: [default]\n"
                               "floating_ip_pool: ext\nname: os\nregion_name: RegionOne\n"
                               "user_domain_name: Default\nnetwork_id: n-1\n")


def test_nova_security_groups_must_be_a_list():
    [problem] = rejected(MINIMAL["nova"] + "security_groups: default\n")
    assert "resource.security_groups: must be a list of strings, got 'default'" in problem


# --- docker ------------------------------------------------------------------------

def test_docker_a_numeric_tag_is_kept_as_its_text_with_a_warning():
    checked = accepted(MINIMAL["docker"].replace("tag: latest", "tag: 1.10"))
    assert checked.value["tag"] == "1.1"
    [warning] = checked.warnings
    assert "resource.tag: the number 1.1 is read as the text '1.1'" in warning
    assert accepted(MINIMAL["docker"].replace("tag: latest", "tag: 3")).value["tag"] == "3"


def test_docker_network_mode_may_be_left_out_or_given_as_network():
    assert accepted(MINIMAL["docker"].replace("network_mode: bridge\n", "")).warnings == []
    accepted(MINIMAL["docker"].replace("network_mode: bridge\n", "network: occo-net\n"))


def test_docker_rejected_forms():
    [problem] = rejected(MINIMAL["docker"] + "ports: [80]\n")
    assert problem.startswith("defs.yaml:7:1: resource.ports: unknown key 'ports' in docker "
                              "resource")
    [problem] = rejected(MINIMAL["docker"].replace("image: nginx", "image: [nginx]"))
    assert problem == "defs.yaml:5:8: resource.image: must be a string, got a list"


# --- cloudsigma --------------------------------------------------------------------

def test_cloudsigma_description_extra_keys_are_passed_on():
    checked = accepted(MINIMAL["cloudsigma"].replace("vnc_password: secret",
                                                     "vnc_password: secret, pubkeys: [k]"))
    assert checked.value["description"]["pubkeys"] == ["k"]


@pytest.mark.parametrize("key", ["cpu", "mem", "vnc_password"])
def test_cloudsigma_description_needs_cpu_mem_vnc_password(key):
    data = load_yaml_text(MINIMAL["cloudsigma"], source="defs.yaml")
    data["description"].pop(key)
    [problem] = SCHEMAS["cloudsigma"].validate(data, "resource").errors
    assert str(problem) == (f"defs.yaml:4:14: resource.description: missing required key "
                            f"{key!r} (cloudsigma description: "
                            + ("a string)" if key == "vnc_password" else
                               "an integer or a number or a string)"))


def test_cloudsigma_description_must_be_a_mapping():
    [problem] = rejected(MINIMAL["cloudsigma"].split("description")[0] + "description: x\n")
    assert problem == "defs.yaml:4:14: resource.description: must be a mapping, got 'x'"


# --- cloudbroker -------------------------------------------------------------------

def test_cloudbroker_forms():
    checked = accepted(MINIMAL["cloudbroker"] + "start_in_vpc: true\nname: cb\n")
    assert checked.value["start_in_vpc"] is True
    [problem] = rejected(MINIMAL["cloudbroker"].replace("deployment_id: dep-1, ", ""))
    assert problem == ("defs.yaml:3:14: resource.description: missing required key "
                       "'deployment_id' (cloudbroker description: a string)")
    [problem] = rejected(MINIMAL["cloudbroker"] + "region_id: r\n")
    assert "unknown key 'region_id' in cloudbroker resource" in problem


# --- azure_vm ----------------------------------------------------------------------

def test_azure_vm_ssh_key_instead_of_password():
    accepted(MINIMAL["azure_vm"].replace("password: s3cret", "ssh_key_data: ssh-rsa AAA"))
    accepted(MINIMAL["azure_vm"] + "public_ip_needed: true\nvnet_name: v\nsubnet_name: s\n"
                                   "customdata: x\nserver_name: vm1\n")


def test_azure_vm_needs_a_password_or_an_ssh_key():
    [problem] = rejected(MINIMAL["azure_vm"].replace("password: s3cret\n", ""))
    assert problem == ("defs.yaml:1:1: resource: missing key: one of 'password', "
                       "'ssh_key_data' is required (azure_vm resource)")


def test_azure_vm_a_numeric_version_is_kept_as_text():
    checked = accepted(MINIMAL["azure_vm"].replace("version: latest", "version: 2019"))
    assert checked.value["version"] == "2019"


def test_azure_vm_public_ip_needed_is_a_boolean():
    [problem] = rejected(MINIMAL["azure_vm"] + "public_ip_needed: please\n")
    assert problem == ("defs.yaml:12:19: resource.public_ip_needed: must be true or false, "
                       "got 'please'")


# --- azure_aci ---------------------------------------------------------------------

def test_azure_aci_forms():
    checked = accepted(MINIMAL["azure_aci"] + "gpu_type: K80\ngpu_count: '2'\n"
                                              "ports: [80, 53/UDP]\nvnet_name: v\n"
                                              "subnet_name: s\n")
    assert checked.value["gpu_count"] == 2
    accepted(MINIMAL["azure_aci"].replace("Public", "private"))


@pytest.mark.parametrize("edit, message", [
    (("Public", "internal"), "defs.yaml:9:15: resource.network_type: must be one of "
                             "'public', 'private' (in any case), got 'internal'"),
    (("memory: 1.5", "memory: lots"), "defs.yaml:6:9: resource.memory: must be a number "
                                      ">= 0, got 'lots'"),
    (("os_type: Linux", "os_type: Linux\nports: 80"), "defs.yaml:9:8: resource.ports: must "
                                                      "be a list of integers or strings, got 80"),
])
def test_azure_aci_rejected_forms(edit, message):
    [problem] = rejected(MINIMAL["azure_aci"].replace(*edit))
    assert problem == message


# --- what is kept ------------------------------------------------------------------

def test_required_keys_given_as_null_are_refused():
    [problem] = rejected(MINIMAL["ec2"].replace("ami-1", "null"))
    assert problem == "defs.yaml:4:11: resource.image_id: must be a string, got nothing (null)"


def test_templates_pass_every_kind():
    accepted(MINIMAL["nova"] + "volume_size: '{{ variables.size }}'\n")
    accepted(MINIMAL["azure_aci"].replace("cpu_cores: 1", "cpu_cores: '{{ variables.c }}'"))
