"""Turning a NodeSpec into the container to create, with every input check done before
any engine call: the name, the image and its origin, the network, the contextualisation
(``env``, ``command``) and the labels.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from occo.util import InputError, NodeSpec

from ._dockerimages import Origin, parse_origin
from .errors import CloudError

__all__ = ["Plan", "plan_container", "container_name", "NAME_PREFIX", "OCCO_ENV"]

NAME_PREFIX = "occo-"
OCCO_ENV = ("OCCO_INSTANCE_ID", "OCCO_INFRA_ID", "OCCO_NODE_NAME", "OCCO_NODE_TYPE")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")

#: ``CloudHandler.bad_resource``: the input error naming the node
BadResourceMaker = Callable[[NodeSpec, str], InputError]


def container_name(instance_id: str) -> str:
    """The container name of an instance: ``occo-<instance id>``."""
    return NAME_PREFIX + instance_id


@dataclass(frozen=True, slots=True)
class Plan:
    """One container to create, checked before any call."""

    spec: NodeSpec
    name: str
    image: str
    tag: str
    origin: Origin
    network: str | None
    environment: list[str]
    command: str | list[str] | None
    labels: dict[str, str]


def plan_container(spec: NodeSpec, bad_resource: BadResourceMaker) -> Plan:
    """Every input check, before any engine call."""
    res = spec.resource
    if not _SAFE_ID.match(spec.instance_id):
        raise CloudError(f"docker: instance id {spec.instance_id!r} cannot name a "
                         "container")
    try:
        origin = parse_origin(res.get("origin"))
    except ValueError as exc:
        raise bad_resource(spec, str(exc)) from None
    for key in ("image", "tag"):
        if not isinstance(res.get(key), str) or not res[key].strip():
            raise bad_resource(spec, f"resource.{key} must be a non-empty string")
    network, mode = res.get("network"), res.get("network_mode")
    if network and mode and network != mode:
        raise bad_resource(spec, f"resource.network {network!r} and "
                                      f"resource.network_mode {mode!r} differ; give one")
    environment, command = _context(spec, bad_resource)
    return Plan(spec=spec, name=container_name(spec.instance_id),
                 image=res["image"].strip(), tag=res["tag"].strip(), origin=origin,
                 network=network or mode or None, environment=environment,
                 command=command, labels=_labels(spec, bad_resource))

def _context(spec: NodeSpec, bad_resource: BadResourceMaker,
         ) -> tuple[list[str], str | list[str] | None]:
    context = spec.context or {}
    kind = context.get("type")
    if kind not in (None, "docker"):
        raise bad_resource(spec, f"contextualisation type {kind!r} is for virtual "
                                      "machines; a container takes type 'docker' (env, "
                                      "command)")
    env: dict[str, str] = {}
    items = context.get("env") or []
    if not isinstance(items, list):
        raise bad_resource(spec, "contextualisation env must be a list of "
                                      "KEY=VALUE strings")
    for item in items:
        key, sep, value = str(item).partition("=")
        if not isinstance(item, str) or not sep or not key.strip():
            raise bad_resource(spec, f"contextualisation env entry {item!r} is not "
                                          "KEY=VALUE")
        env[key] = value
    env.update({"OCCO_INSTANCE_ID": spec.instance_id, "OCCO_INFRA_ID": spec.infra_id,
                "OCCO_NODE_NAME": spec.node_name, "OCCO_NODE_TYPE": spec.node_type})
    command = context.get("command")
    if command is not None and not (
            (isinstance(command, str) and command.strip()) or
            (isinstance(command, list) and command
             and all(isinstance(c, str) for c in command))):
        raise bad_resource(spec, "contextualisation command must be a non-empty "
                                      "string or list of strings")
    return [f"{k}={v}" for k, v in env.items()], command

def _labels(spec: NodeSpec, bad_resource: BadResourceMaker) -> dict[str, str]:
    user = {str(k): str(v) for k, v in (spec.resource.get("tags") or {}).items()}
    user.update({str(k): str(v) for k, v in spec.tags.items()})
    for key in user:
        if key.startswith("occo:"):
            raise bad_resource(spec, f"tag {key!r}: the prefix occo: is reserved")
    return {**user, **spec.occo_tags()}
