"""Resource schemas for the tests, with the keys of FORMATS.md section 2.

The real schemas belong to occo-cloudhandler (entry point group occo.resource_schema),
which the compiler's tests do not install; these stand in for them, written from the
format documentation rather than copied from the cloud handler.
"""

from __future__ import annotations

from occo.util import Field, Schema

EC2 = Schema("ec2 resource", (
    Field("type", "str", required=True),
    Field("endpoint", "str", required=True),
    Field("regionname", "str", required=True),
    Field("image_id", "str", required=True),
    Field("instance_type", "str", required=True),
    Field("key_name", "str"),
    Field("security_group_ids", "list", items="str"),
    Field("subnet_id", "str"),
    Field("tags", "mapping"),
    Field("name", "str"),
))

NOVA = Schema("nova resource", (
    Field("type", "str", required=True),
    Field("endpoint", "str", required=True),
    Field("image_id", "str", required=True),
    Field("flavor_name", "str", required=True),
    Field("project_id", "str", required=True),
    Field("server_name", "str"),
    Field("key_name", "str"),
    Field("security_groups", "list", items="str"),
    Field("floating_ip", "str|bool"),
    Field("floating_ip_pool", "str"),
    Field("name", "str"),
    Field("region_name", "str"),
    Field("user_domain_name", "str"),
    Field("network_id", "str"),
    Field("volume_size", "int", minimum=1),
    Field("volume_persist", "bool"),
))

DOCKER = Schema("docker resource", (
    Field("type", "str", required=True),
    Field("endpoint", "str", required=True),
    Field("origin", "str", required=True),
    Field("image", "str", required=True),
    Field("tag", "str", required=True),
    Field("name", "str"),
))

CLOUDSIGMA = Schema("cloudsigma resource", (
    Field("type", "str", required=True),
    Field("endpoint", "str", required=True),
    Field("libdrive_id", "str", required=True),
    Field("description", "mapping", required=True),
    Field("name", "str"),
))

DUMMY = Schema("dummy resource", (
    Field("type", "str", required=True),
    Field("name", "str"),
    Field("zone", "str"),
))

SCHEMAS = {"ec2": EC2, "nova": NOVA, "docker": DOCKER, "cloudsigma": CLOUDSIGMA,
           "dummy": DUMMY}

#: OCCO's ``local`` resource, for the corpus of occo.util.testing (conftest.CORPUS_PLUGINS);
#: not in SCHEMAS, whose set of types the error message tests name.
LOCAL = Schema("local resource", (
    Field("type", "str", required=True),
    Field("command", "str|list", items="str"),
    Field("env", "mapping"),
    Field("files", "mapping"),
    Field("grace_period", "number", minimum=0),
    Field("name", "str"),
    Field("tags", "mapping"),
))

#: Config managers and extra health check keys the tutorials need.
CONFIG_MANAGERS = {"chef", "puppet_solo"}
HEALTH_CHECKS: set[str] = set()
