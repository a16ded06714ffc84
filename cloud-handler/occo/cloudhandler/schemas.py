"""The resource sections each cloud type accepts (FORMATS.md section 2).

Registered in the entry point group ``occo.resource_schema`` (name = resource ``type``),
where the compiler finds them to validate node definitions before anything is created.
``ec2``, ``nova``, ``docker`` and ``cloudsigma`` keep the keys Occopus defined, so every
Occopus node definition stays valid; ``dummy`` and ``local`` are OCCO's own
(docs/cloudhandlers.rst; docker: docs/docker.rst, which adds the optional ``network``
and ``tags``). ``nova`` and ``cloudsigma`` have no backend yet:
creating such a node fails with :class:`~occo.cloudhandler.errors.NoBackend`.
"""

from __future__ import annotations

from occo.util import Field, Schema

__all__ = ["EC2", "NOVA", "DOCKER", "CLOUDSIGMA", "DUMMY", "LOCAL", "SCHEMAS"]

_TYPE = Field("type", "str", required=True, doc="the cloud handler that creates the node")
_NAME = Field("name", "str", doc="a label for this cloud; also picks credentials")
_TAGS = Field("tags", "mapping", doc="the user's tags, written on the resource with OCCO's")

EC2 = Schema("ec2 resource", (
    _TYPE,
    Field("endpoint", "str", required=True, doc="the EC2 API URL"),
    Field("regionname", "str", required=True, doc="the region, e.g. eu-west-1"),
    Field("image_id", "str", required=True, doc="the AMI"),
    Field("instance_type", "str", required=True, doc="e.g. t3.small"),
    Field("key_name", "str", doc="an SSH key pair of the account"),
    Field("security_group_ids", "list", items="str"),
    Field("subnet_id", "str"),
    _TAGS,
    _NAME,
), doc="An Amazon EC2 (or EC2-compatible) virtual machine.")

NOVA = Schema("nova resource", (
    _TYPE,
    Field("endpoint", "str", required=True, doc="the Keystone (identity) URL"),
    Field("image_id", "str", required=True),
    Field("flavor_name", "str", required=True),
    Field("project_id", "str", required=True),
    Field("server_name", "str"),
    Field("key_name", "str"),
    Field("security_groups", "list", items="str"),
    Field("floating_ip", "str|bool", doc="any value asks for a floating IP (Occopus)"),
    Field("floating_ip_pool", "str"),
    _NAME,
    Field("region_name", "str"),
    Field("user_domain_name", "str"),
    Field("network_id", "str"),
    Field("volume_size", "int", minimum=1),
    Field("volume_persist", "bool"),
), doc="An OpenStack Nova server (no backend in this release).")

DOCKER = Schema("docker resource", (
    _TYPE,
    Field("endpoint", "str", required=True,
          doc="the Docker Engine API: unix:///var/run/docker.sock, tcp://host:2375, "
              "https://host:2376"),
    Field("origin", "str", required=True,
          doc="where the image comes from: dockerhub (pull), local (already on the "
              "engine), or a file:// or http(s):// URL of an image tarball"),
    Field("image", "str", required=True, doc="the image's repository name"),
    Field("tag", "str", required=True, doc="the image's tag"),
    Field("network", "str", doc="the Docker network the container joins (an existing "
                                "one, or host / none); default: the engine's default"),
    Field("network_mode", "str", doc="the same, under the name some Occopus versions used"),
    _TAGS,
    _NAME,
), doc="A Docker container on a Docker Engine (docs/docker.rst).")

CLOUDSIGMA = Schema("cloudsigma resource", (
    _TYPE,
    Field("endpoint", "str", required=True),
    Field("libdrive_id", "str", required=True, doc="the library drive to clone"),
    Field("description", "mapping", required=True, doc="the server description (cpu, mem, "
                                                         "vnc_password, pubkeys, nics)"),
    _NAME,
), doc="A CloudSigma server (no backend in this release).")

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
                                  "into the working directory first"),
    Field("grace_period", "number", minimum=0, doc="seconds between SIGTERM and SIGKILL"),
    _NAME,
    _TAGS,
), doc="A node as a local process group on its own loopback address.")

SCHEMAS = {"ec2": EC2, "nova": NOVA, "docker": DOCKER, "cloudsigma": CLOUDSIGMA,
           "dummy": DUMMY, "local": LOCAL}
