"""The resource sections each cloud type accepts (FORMATS.md section 2).

Registered in the entry point group ``occo.resource_schema`` (name = resource ``type``),
where the compiler finds them to validate node definitions before anything is created.

Every resource type Occopus 1.10's resource-handler registers has a schema here with the
same required and optional keys as its ``*SchemaChecker`` (``ec2``, ``nova``,
``docker``, ``cloudsigma``, ``cloudbroker``, ``azure_vm``, ``azure_aci``), so every
Occopus node definition stays valid; docs/user/compat/node-definitions.inc compares them
key by key. Values are typed (Occopus only checks keys, and a wrong value fails when the
node is created), with Occopus's tolerance kept: a number where a name is meant is kept
as its text, a numeric string volume size is read as the number, an optional key given
as null is not set. OCCO's extra keys (``name`` and ``tags`` everywhere, ``network``
for docker) are accepted too; ``dummy`` and ``local`` are OCCO's own
(docs/cloudhandlers.rst; docker: docs/docker.rst). A type without a backend validates,
but creating such a node fails with :class:`~occo.cloudhandler.errors.NoBackend`.
"""

from __future__ import annotations

from occo.util import Field, Schema

from ._localfiles import files_problem

__all__ = ["EC2", "NOVA", "DOCKER", "CLOUDSIGMA", "CLOUDBROKER", "AZURE_VM", "AZURE_ACI",
           "DUMMY", "LOCAL", "SCHEMAS", "OCCOPUS_TYPES"]

_TYPE = Field("type", "str", required=True, doc="the cloud handler that creates the node")
_NAME = Field("name", "str", coerce="str",
              doc="a label for this cloud; also picks credentials")
_TAGS = Field("tags", "mapping", doc="the user's tags, written on the resource with OCCO's")
_ENDPOINT = Field("endpoint", "str", required=True, doc="the cloud's API URL")


def _name(key: str, doc: str = "", *, required: bool = False) -> Field:
    """A name or id: a string, where a number YAML read is kept as its text."""
    return Field(key, "str", required=required, coerce="str", doc=doc)


EC2 = Schema("ec2 resource", (
    _TYPE,
    Field("endpoint", "str", required=True, doc="the EC2 API URL"),
    _name("regionname", "the region, e.g. eu-west-1", required=True),
    _name("image_id", "the AMI", required=True),
    _name("instance_type", "e.g. t3.small", required=True),
    _name("key_name", "an SSH key pair of the account"),
    Field("security_group_ids", "list", items="str"),
    _name("subnet_id"),
    _TAGS,
    _NAME,
), null="unset", doc="An Amazon EC2 (or EC2-compatible) virtual machine.")

NOVA = Schema("nova resource", (
    _TYPE,
    Field("endpoint", "str", required=True, doc="the Keystone (identity) URL"),
    _name("image_id", required=True),
    _name("flavor_name", "a flavor's name (or id)", required=True),
    _name("project_id", required=True),
    Field("tenant_name", "str", coerce="str", replacement="project_id",
          doc="deprecated: Occopus 1.10 requires project_id and ignores this"),
    _name("server_name"),
    _name("key_name"),
    Field("security_groups", "list", items="str"),
    Field("floating_ip", "any", null="keep",
          doc="present (with any value, even false or null) asks for a floating IP, "
              "as in Occopus"),
    _name("floating_ip_pool", "the pool (network) to take the floating IP from; asks "
                              "for one too"),
    _NAME,
    _name("region_name"),
    _name("user_domain_name", "default: Default"),
    _name("network_id"),
    Field("volume_size", "int", minimum=0, coerce="int",
          doc="boot from a new volume of this many GB; 0: of the size the cloud decides"),
    Field("volume_persist", "bool", doc="keep the boot volume when the server goes"),
), null="unset", doc="An OpenStack Nova server (docs/user/clouds.rst, OpenStack).")

DOCKER = Schema("docker resource", (
    _TYPE,
    Field("endpoint", "str", required=True,
          doc="the Docker Engine API: unix:///var/run/docker.sock, tcp://host:2375, "
              "https://host:2376"),
    Field("origin", "str", required=True,
          doc="where the image comes from: dockerhub (pull), local (already on the "
              "engine), or a file:// or http(s):// URL of an image tarball"),
    _name("image", "the image's repository name", required=True),
    _name("tag", "the image's tag (quote it: tag: 1.10 is the number 1.1)", required=True),
    _name("network", "the Docker network the container joins (an existing one, or "
                     "host / none); default: the engine's default"),
    _name("network_mode", "the same, under the name Occopus requires"),
    _TAGS,
    _NAME,
), null="unset", doc="A Docker container on a Docker Engine (docs/docker.rst).")

CLOUDSIGMA = Schema("cloudsigma resource", (
    _TYPE,
    _ENDPOINT,
    _name("libdrive_id", "the library drive to clone", required=True),
    Field("description", "mapping", required=True,
          doc="the server description: cpu, mem, vnc_password required; pubkeys, nics, "
              "... passed on",
          schema=Schema("cloudsigma description", (
              Field("cpu", "int|number|str", required=True, doc="CPU in MHz"),
              Field("mem", "int|number|str", required=True, doc="memory in bytes"),
              _name("vnc_password", required=True),
          ), extra_keys=True)),
    _NAME,
), null="unset", doc="A CloudSigma server (no backend in this release).")

CLOUDBROKER = Schema("cloudbroker resource", (
    _TYPE,
    _ENDPOINT,
    Field("description", "mapping", required=True,
          doc="the instance description: deployment_id, instance_type_id required; "
              "other keys passed on",
          schema=Schema("cloudbroker description", (
              _name("deployment_id", required=True),
              _name("instance_type_id", required=True),
          ), extra_keys=True)),
    Field("start_in_vpc", "bool|str", doc="passed on as start-in-vpc"),
    _NAME,
), null="unset", doc="A CloudBroker Platform instance (no backend in this release).")

AZURE_VM = Schema("azure_vm resource", (
    _TYPE,
    _ENDPOINT,
    _name("resource_group", required=True),
    _name("location", "e.g. westeurope", required=True),
    _name("vm_size", "e.g. Standard_B1s", required=True),
    _name("publisher", "of the image", required=True),
    _name("offer", "of the image", required=True),
    _name("sku", "of the image", required=True),
    _name("version", "of the image, e.g. latest", required=True),
    _name("username", "the admin user", required=True),
    Field("password", "str", coerce="str", doc="the admin password (or ssh_key_data)"),
    _name("ssh_key_data", "a public key for the admin user (or password)"),
    Field("public_ip_needed", "bool", doc="true: give the VM a public IP"),
    _name("vnet_name", "an existing virtual network (default: one is made)"),
    _name("subnet_name", "an existing subnet (default: one is made)"),
    Field("customdata", "str", doc="accepted, as by Occopus (the contextualisation is "
                                   "what is sent)"),
    _name("server_name", "the computer name"),
    _NAME,
), null="unset", one_of=(("password", "ssh_key_data"),),
    doc="An Azure virtual machine (no backend in this release).")

AZURE_ACI = Schema("azure_aci resource", (
    _TYPE,
    _ENDPOINT,
    _name("resource_group", required=True),
    _name("location", required=True),
    Field("cpu_cores", "number", required=True, minimum=0),
    Field("memory", "number", required=True, minimum=0, doc="GB"),
    _name("image", "the container image", required=True),
    _name("os_type", "Linux or Windows", required=True),
    Field("network_type", "str", required=True, choices=("public", "private"),
          ignore_case=True),
    _name("gpu_type", "e.g. K80; asks for GPUs"),
    Field("gpu_count", "int", minimum=1, coerce="int", doc="default: 1"),
    Field("ports", "list", items="int|str", doc="80 or '80/UDP'"),
    _name("vnet_name", "private network: an existing virtual network"),
    _name("subnet_name", "private network: an existing subnet"),
    _NAME,
), null="unset", doc="An Azure Container Instances group (no backend in this release).")

DUMMY = Schema("dummy resource", (
    _TYPE,
    _NAME,
    Field("create_latency", "number", minimum=0, doc="seconds from create to running"),
    Field("drop_latency", "number", minimum=0, doc="seconds from drop to terminated"),
    Field("fail_rate", "number", minimum=0, doc="chance (0..1) that a node ends up failed"),
    Field("throttle_rate", "number", minimum=0, doc="chance (0..1) that a call is throttled"),
    Field("capacity", "int", minimum=0, doc="most nodes alive at once on this cloud"),
    Field("seed", "int|str", doc="makes failures and throttling reproducible"),
    Field("image", "str", doc="the image asked for"),
    Field("images", "list", items="str", doc="the images this cloud knows (default: any)"),
    _TAGS,
), doc="OCCO's simulated cloud, for tests and benchmarks.")

LOCAL = Schema("local resource", (
    _TYPE,
    Field("command", "str|list", items="str",
          doc="run by /bin/sh -c (a string) or directly (a list); required unless the "
              "contextualisation (docker type) gives one"),
    Field("env", "mapping", doc="environment variables for the command"),
    Field("files", "mapping", doc="relative path -> content (or {content, mode}) written "
                                  "into the working directory first", check=files_problem),
    Field("grace_period", "number", minimum=0, doc="seconds between SIGTERM and SIGKILL"),
    _NAME,
    _TAGS,
), doc="A node as a local process group on its own loopback address.")

SCHEMAS = {"ec2": EC2, "nova": NOVA, "docker": DOCKER, "cloudsigma": CLOUDSIGMA,
           "cloudbroker": CLOUDBROKER, "azure_vm": AZURE_VM, "azure_aci": AZURE_ACI,
           "dummy": DUMMY, "local": LOCAL}

#: The resource types Occopus 1.10's resource-handler registers.
OCCOPUS_TYPES = frozenset({"ec2", "nova", "docker", "cloudsigma", "cloudbroker",
                           "azure_vm", "azure_aci"})
