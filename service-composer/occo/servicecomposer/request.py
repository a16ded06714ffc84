"""The input of the service composer for one node instance, checked once at the boundary.

It arrives as a plain, JSON-able mapping (over an RPC endpoint, or in-process)::

    {"instance_id": "...", "infra_id": "...", "infra_name": "...", "user_id": "...",
     "node": {"name": "web", "type": "web_node", "variables": {...},
              "scaling": {"min": 1, "max": 3},
              "attributes": {...},            # optional, Occopus node attributes
              "dependencies": ["db", ...],    # optional, direct and indirect
              "mappings": {"inbound": {...}, "outbound": {...}}},  # optional, Occopus form
     "implementation": {"resource": {...}, "contextualisation": {...} | None,
                        "config_management": {...} | None, "health_check": {...} | None},
     "scaling_secret": "..."}                 # optional: the REST scaling secret

``node.variables`` are already merged (infrastructure, then node). When
``node.dependencies`` is given, templates may only name those nodes (and the node
itself); see docs/servicecomposer.rst. Callers build it with
``occo.util.instance_request.RequestBuilder``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from occo.util import describe_value, is_secret_key, register_secret

from .errors import RequestError

__all__ = ["InstanceRequest", "register_secrets_in"]


def _need(data: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...],
          *, required: bool = True, default: Any = None) -> Any:
    if key not in data or data[key] is None:
        if required:
            raise RequestError(f"{path}{key}: missing (the resolve request must have it)")
        return default
    value = data[key]
    if not isinstance(value, kind):
        word = "mapping" if kind is Mapping else "string" if kind is str else str(kind)
        raise RequestError(f"{path}{key}: must be a {word}, got {describe_value(value)}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRequest:
    """One node instance to resolve, as the documented request mapping describes it."""

    instance_id: str
    infra_id: str
    infra_name: str
    user_id: str | None
    node_name: str
    node_type: str
    variables: Mapping[str, Any]
    node: Mapping[str, Any]
    resource: Mapping[str, Any]
    contextualisation: Mapping[str, Any] | None = None
    config_management: Mapping[str, Any] | None = None
    health_check: Mapping[str, Any] | None = None
    node_attributes: Mapping[str, Any] | None = None
    dependencies: frozenset[str] | None = field(default=None)
    scaling_secret: str | None = None

    @classmethod
    def from_mapping(cls, data: Any) -> InstanceRequest:
        """Check the request's shape; :class:`RequestError` names the offending key."""
        if isinstance(data, InstanceRequest):
            return data
        if not isinstance(data, Mapping):
            raise RequestError(f"a resolve request must be a mapping, got {describe_value(data)}")
        node = _need(data, "node", "", Mapping)
        impl = _need(data, "implementation", "", Mapping)
        user_id = data.get("user_id")
        deps = node.get("dependencies")
        if deps is not None and (not isinstance(deps, (list, tuple, set, frozenset))
                                 or not all(isinstance(d, str) for d in deps)):
            raise RequestError(f"node.dependencies: must be a list of node names, got "
                               f"{describe_value(deps)}")
        secret = _need(data, "scaling_secret", "", str, required=False)
        if secret:
            register_secret(secret)  # this process may not be the one that derived it
        resource = _need(impl, "resource", "implementation.", Mapping)
        if not isinstance(resource.get("type"), str):
            raise RequestError("implementation.resource.type: missing (every resource "
                               "section names its cloud handler type)")
        return cls(
            instance_id=_need(data, "instance_id", "", str),
            infra_id=_need(data, "infra_id", "", str),
            infra_name=_need(data, "infra_name", "", str, required=False, default="") or "",
            user_id=None if user_id is None else str(user_id),
            node_name=_need(node, "name", "node.", str),
            node_type=_need(node, "type", "node.", str),
            variables=_need(node, "variables", "node.", Mapping, required=False, default={}),
            node=node,
            resource=resource,
            contextualisation=_need(impl, "contextualisation", "implementation.", Mapping,
                                    required=False),
            config_management=_need(impl, "config_management", "implementation.", Mapping,
                                    required=False),
            health_check=_need(impl, "health_check", "implementation.", Mapping,
                               required=False),
            node_attributes=_need(node, "attributes", "node.", Mapping, required=False),
            dependencies=frozenset(deps) if deps is not None else None,
            scaling_secret=secret,
        )

    def names(self) -> dict[str, Any]:
        """The template names of this instance, without functions (FORMATS.md section 4)."""
        out = {
            "node_id": self.instance_id, "instance_id": self.instance_id,
            "infra_id": self.infra_id, "infra_name": self.infra_name, "user_id": self.user_id,
            "name": self.node_name, "type": self.node_type, "variables": self.variables,
            "scaling": self.node.get("scaling"), "attributes": self.node_attributes or {},
            "mappings": self.node.get("mappings") or {"inbound": {}, "outbound": {}},
            "resource": self.resource, "contextualisation": self.contextualisation,
            "config_management": self.config_management, "health_check": self.health_check,
        }
        if self.scaling_secret:  # absent where it cannot be derived: naming it then fails
            out["scaling_secret"] = self.scaling_secret
        return out


@lru_cache(maxsize=4096)
def _secret_key(key: Any) -> bool:
    return is_secret_key(key)


def register_secrets_in(value: Any, *, depth: int = 0) -> None:
    """Register every value found under a secret-named key in ``value`` (recursively).

    Template strings are not registered (their text is not the secret; their rendered
    value is registered after rendering by the caller).
    """
    if depth > 50:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                if item and _secret_key(key):
                    _register_plain(item)
            elif item is not None and _secret_key(key):
                _register_plain(item)
            elif isinstance(item, (dict, list, tuple)):
                register_secrets_in(item, depth=depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (dict, list, tuple)):
                register_secrets_in(item, depth=depth + 1)
    elif isinstance(value, Mapping):
        register_secrets_in(dict(value), depth=depth)


def _register_plain(value: Any) -> None:
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            register_secret(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        register_secret(str(value))
    elif isinstance(value, (Mapping, list, tuple)):
        items = value.values() if isinstance(value, Mapping) else value
        for item in items:
            _register_plain(item)
