"""The schemas of the user formats (FORMATS.md sections 1-2) and small checking helpers.

Key and type checks use ``occo.util.Schema`` so every package words its errors the same
way (``unknown key 'scalling' in node; did you mean 'scaling'?``). What a schema cannot
say (name rules, a template where no template is rendered) is checked here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from occo.util import (
    Field,
    InputError,
    Schema,
    closest,
    describe_value,
    is_template,
    join_path,
    location_of,
    suggestion,
)

from ._collect import ErrorCollector

__all__ = ["INFRA_SCHEMA", "NODE_SCHEMA", "SCALING_SCHEMA", "DEPENDENCY_SCHEMA",
           "MAPPING_SCHEMA", "IMPLEMENTATION_SCHEMA", "CONTEXT_SCHEMAS", "CONFIG_SCHEMA",
           "MYSQLDB_SCHEMA", "health_check_schema", "check_section",
           "closest", "suggestion", "NODE_DEF_PREFIX"]

NODE_DEF_PREFIX = "node_def:"

INFRA_SCHEMA = Schema("infrastructure description", (
    Field("infra_name", "str", required=True, doc="the infrastructure's name"),
    Field("user_id", "str|int", doc="owner label"),
    Field("variables", "mapping", doc="inherited by every node"),
    Field("nodes", "list", required=True, doc="the nodes"),
    Field("dependencies", "list|mapping",
          doc="edges: the first node depends on the second (an empty mapping is none)"),
))

NODE_SCHEMA = Schema("node", (
    Field("name", "str", required=True),
    Field("type", "str", required=True, doc="refers to 'node_def:<type>'"),
    Field("scaling", "mapping"),
    Field("filter", "mapping", doc="a sub-mapping of the resource section"),
    Field("variables", "mapping"),
    Field("create_timeout", "int|number", minimum=0, doc="Occopus key, accepted"),
    Field("attributes", "mapping", doc="Occopus key, accepted"),
    Field("update", "mapping", doc="OCCO extension: how a changed node is replaced"),
))

UPDATE_SCHEMA = Schema("update", (
    Field("max_surge", "int", minimum=0,
          doc="new instances created beyond the wanted count during a replacement"),
    Field("max_unavailable", "int", minimum=0,
          doc="instances that may be missing below the wanted count during a replacement"),
    Field("min_ready_seconds", "number", minimum=0,
          doc="seconds a new instance must have been ready before an old one goes for it "
              "(time for a load balancer to see it; default 0, at most 3600)"),
))

SCALING_SCHEMA = Schema("scaling", (
    Field("min", "int", minimum=0),
    Field("max", "int", minimum=0),
))

# Occopus's Edge and mapping objects keep any other key ("anything else that is required
# by mediating services"): so does OCCO, and passes them on in the node's mappings.
DEPENDENCY_SCHEMA = Schema("dependency", (
    Field("connection", "list", required=True, doc="[dependent, dependency]"),
    Field("mappings", "list", doc="attribute mappings"),
), extra_keys=True)

MAPPING_SCHEMA = Schema("attribute mapping", (
    Field("attributes", "list", required=True, items="str", doc="[source, target]"),
    Field("synch", "bool"),
), extra_keys=True)

IMPLEMENTATION_SCHEMA = Schema("implementation", (
    Field("resource", "mapping", required=True),
    Field("contextualisation", "mapping"),
    Field("config_management", "mapping"),
    Field("health_check", "mapping"),
))

CONTEXT_SCHEMAS = {
    "cloudinit": Schema("cloudinit contextualisation", (
        Field("type", "str", required=True),
        Field("context_template", "str|mapping", required=True),
        Field("attributes", "mapping|list"),
    )),
    "docker": Schema("docker contextualisation", (
        Field("type", "str", required=True),
        Field("env", "list", items="str"),
        Field("command", "str|list"),
        Field("context_variables", "mapping|list|str"),
    )),
    "basic": Schema("basic contextualisation", (
        Field("type", "str", required=True),
        Field("attributes", "mapping|list"),
    )),
}

CONFIG_SCHEMA = Schema("config_management", (Field("type", "str", required=True),),
                       extra_keys=True)

MYSQLDB_SCHEMA = Schema("mysqldbs entry", (
    Field("name", "str", required=True),
    Field("user", "str", required=True),
    Field("pass", "str", required=True),
))

_HEALTH_FIELDS = (
    Field("ping", "bool"),
    Field("ports", "list", items="int|str"),
    Field("urls", "list", items="str"),
    Field("mysqldbs", "list", items="mapping"),
    Field("synch_attrs", "list", items="str",
          doc="attributes that must have a value before the node is ready (Occopus's "
              "synch mappings add theirs)"),
    Field("timeout", "int|number", minimum=0),
    Field("type", "str", choices=("basic",), doc="Occopus key, accepted"),
)


def health_check_schema(extra: Iterable[str]) -> Schema:
    """The health_check schema: the built-in keys plus those plugins add."""
    known = {f.name for f in _HEALTH_FIELDS}
    fields = _HEALTH_FIELDS + tuple(Field(name, "any") for name in sorted(extra)
                                    if name not in known)
    return Schema("health_check", fields)


def check_section(schema: Schema, value: Any, path: str, errors: ErrorCollector, *,
                  parent: Any = None, key: Any = None, templates: bool = True,
                  ignore: Iterable[str] = ()) -> bool:
    """Check ``value`` against ``schema``, adding every problem to ``errors``.

    With ``templates=False`` (the infrastructure description, which is never rendered)
    a template string is not accepted in place of a number, list or mapping. Returns
    whether the section was clean.
    """
    before = len(errors)
    errors.extend(schema.check(value, path, parent=parent, key=key, ignore=ignore))
    if not templates and isinstance(value, dict):
        for f in schema.fields:
            item = value.get(f.name)
            if is_template(item) and not {"str", "any"} & set(f.kind.split("|")):
                errors.add(InputError(
                    f"must be {f.expected()}, got {describe_value(item)} (templates are not "
                    f"rendered in an infrastructure description)",
                    location=location_of(value, f.name, path=join_path(path, f.name))))
    return len(errors) == before
