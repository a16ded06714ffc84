"""The service composer's request for one node instance, built in one place.

The processor (to create an instance) and the enactor (to check its health) both ask the
service composer about an instance; both build the request here, from the compiled
description (read through occo.util.compiled's view), so they cannot drift apart. The request's
shape is documented in ``occo.servicecomposer.request``.

``node.dependencies`` lists the nodes the instance's templates may name: the node's
direct **and indirect** dependencies, the same set the compiler lets a template name
(FORMATS.md section 4). ``node.mappings`` holds the attribute mappings of the node's
edges as Occopus's ``StaticDescription.merge_mappings`` gave them to mediating services:
``inbound`` by dependency name, ``outbound`` by dependent name, each a list of
``{attributes: [source, target], synch: bool, **extra keys}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from occo.util.compiled import CompiledDescription
from occo.util.errors import OccoError
from occo.util.secrets import register_secret

__all__ = ["RequestBuilder", "ancestors", "scaling_secret", "synch_attribute_names",
           "waits_on_attributes"]

log = logging.getLogger(__name__)


def ancestors(description: CompiledDescription, name: str) -> list[str]:
    """Every node ``name`` waits for, directly or indirectly, nearest first (breadth
    first, each node's dependencies in the order written)."""
    seen: dict[str, None] = {}
    queue = list(description.dependencies_of(name))
    while queue:
        nxt = queue.pop(0)
        if nxt in seen or nxt == name:
            continue
        seen[nxt] = None
        queue.extend(description.dependencies_of(nxt))
    return list(seen)


def synch_attribute_names(mappings: Mapping[str, Any] | None,
                          listed: Any = None) -> list[str]:
    """The attributes an instance must have before it is ready: the sources of its
    ``synch`` outbound mappings (Occopus's ``extract_synch_attrs``), then the names
    ``listed`` in its ``health_check.synch_attrs``, each once, in order."""
    names: list[str] = []
    outbound = (mappings or {}).get("outbound") or {}
    for items in outbound.values():
        for mapping in items or ():
            if isinstance(mapping, Mapping) and mapping.get("synch"):
                names.append(str(mapping["attributes"][0]))
    if isinstance(listed, (list, tuple)):
        names.extend(str(n) for n in listed)
    return list(dict.fromkeys(names))


def waits_on_attributes(request: Mapping[str, Any]) -> bool:
    """Whether the instance of ``request`` has synch attributes to wait for (so it has a
    health check to pass even where its cloud's address has nothing to probe)."""
    health = (request.get("implementation") or {}).get("health_check")
    listed = health.get("synch_attrs") if isinstance(health, Mapping) else None
    return bool(synch_attribute_names((request.get("node") or {}).get("mappings"), listed))


def scaling_secret(store: Any, infra_id: str) -> str | None:
    """The infrastructure's REST scaling secret from ``store`` (an info-broker store), or
    ``None`` where this process has no store key to derive it from (a worker on another
    machine without the key file): templates naming ``scaling_secret`` then fail to
    render, saying the name is missing, rather than get a secret the REST service would
    refuse."""
    derive = getattr(store, "scaling_secret", None)
    if derive is None:
        return None
    try:
        return derive(infra_id, create=False)
    except OccoError as exc:
        log.info("no scaling secret for %s here: %s", infra_id, exc)
        return None


class RequestBuilder:
    """Requests for the instances of one infrastructure; the per-node part (dependencies
    and mappings, which cost a graph walk) is computed once per node. ``description`` is
    the compiled description (:class:`~occo.util.compiled.CompiledDescription`), or
    ``None`` where every node's part comes from a run's scope (:meth:`from_scope`)."""

    def __init__(self, description: CompiledDescription | None, infra_id: str, *,
                 scaling_secret: str | None = None) -> None:
        self.description = description
        self.infra_id = infra_id
        self.infra_name = description.infra_name if description is not None else ""
        self.user_id = description.user_id if description is not None else None
        self._cache: dict[str, dict[str, Any]] = {}
        #: the infrastructure's REST scaling secret (``Store.scaling_secret``), if known
        self.scaling_secret = scaling_secret
        if scaling_secret:
            register_secret(scaling_secret)

    @classmethod
    def from_scope(cls, scope: Any, *, scaling_secret: str | None = None) -> RequestBuilder:
        """The builder of a run: every node's part comes from the run's ``RunScope``
        (occo.util.instructions), so no description is needed."""
        builder = cls(None, scope.infra_id, scaling_secret=scaling_secret)
        builder.infra_name = scope.infra_name
        builder.user_id = scope.user_id
        builder._cache.update({name: dict(node) for name, node in scope.nodes.items()})
        return builder

    def node(self, name: str) -> dict[str, Any]:
        """The request's ``node`` part for node ``name``."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        described = self.description
        if described is None or name not in described.node_names:
            node: dict[str, Any] = {"name": name, "dependencies": [],
                                    "mappings": {"inbound": {}, "outbound": {}}}
        else:
            inbound: dict[str, list] = {}
            outbound: dict[str, list] = {}
            for edge in described.edges:
                if edge.dependent == name:
                    inbound[edge.dependency] = [m.occopus_form() for m in edge.mappings]
                elif edge.dependency == name:
                    outbound[edge.dependent] = [m.occopus_form() for m in edge.mappings]
            node = described.node(name).to_dict()
            node.pop("implementations", None)
            node["dependencies"] = ancestors(described, name)
            node["mappings"] = {"inbound": inbound, "outbound": outbound}
        self._cache[name] = node
        return node

    def request(self, node_name: str, instance_id: str,
                implementation: Mapping[str, Any]) -> dict[str, Any]:
        """What the service composer needs to render (or health-check) this instance."""
        return {"instance_id": instance_id, "infra_id": self.infra_id,
                "infra_name": self.infra_name, "user_id": self.user_id,
                "node": self.node(node_name), "implementation": implementation,
                "scaling_secret": self.scaling_secret}
