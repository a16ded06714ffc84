"""The compiled, immutable model of an infrastructure and its node definitions.

Everything downstream (the store, the enactor, the processor) works from these objects or
from their plain dict form (``to_dict()`` / ``from_dict()``), which is JSON-able and
documented in docs/compiler.rst. Free-form user data (variables, resource sections) is
kept as read-only :class:`~occo.compiler.frozen.FrozenDict` s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._graph import CycleError, topological_levels
from .errors import InvalidModelError
from .frozen import EMPTY, FrozenDict, freeze, thaw

__all__ = ["FORMAT_VERSION", "Scaling", "Update", "DEFAULT_UPDATE", "Implementation",
           "NodeDefinition", "AttributeMapping", "Edge", "Node", "StaticDescription",
           "summary_line"]

#: Version of the dict form; ``from_dict`` refuses other versions.
FORMAT_VERSION = 1

DEFAULT_CONFIG_MANAGEMENT = FrozenDict(type="none")


def _need(d: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return d[key]
    except (KeyError, TypeError):
        raise InvalidModelError(f"not a compiled {what}: missing {key!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Scaling:
    """How many instances a node may have: ``min <= max``, ``min >= 0``."""

    min: int = 1
    max: int = 1

    def to_dict(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max}


@dataclass(frozen=True, slots=True)
class Update:
    """How instances of a changed node are replaced (a rolling replacement): at most
    ``max_surge`` new instances beyond the wanted count, at most ``max_unavailable``
    below it, and a new instance counts once it has been ready ``min_ready_seconds``
    (time for a balancer to see it). The default replaces one at a time and never goes
    below the wanted count."""

    max_surge: int = 1
    max_unavailable: int = 0
    min_ready_seconds: float = 0

    def to_dict(self) -> dict[str, Any]:
        return {"max_surge": self.max_surge, "max_unavailable": self.max_unavailable,
                "min_ready_seconds": self.min_ready_seconds}

    @classmethod
    def from_dict(cls, d: Any) -> Update:
        if not isinstance(d, Mapping):
            return DEFAULT_UPDATE
        try:
            return cls(max_surge=max(0, int(d.get("max_surge", 1))),
                       max_unavailable=max(0, int(d.get("max_unavailable", 0))),
                       min_ready_seconds=max(0, float(d.get("min_ready_seconds", 0))))
        except (TypeError, ValueError):
            raise InvalidModelError("not a compiled node: bad update") from None


DEFAULT_UPDATE = Update()


@dataclass(frozen=True, slots=True, kw_only=True)
class Implementation:
    """One way to create a node of some type: where (resource) and how (the rest).

    ``config_management`` defaults to ``{type: none}`` and ``health_check`` always holds
    ``ping`` (default true, as in Occopus), so consumers need no defaults of their own.
    ``contextualisation`` is ``None`` when the definition has none.
    """

    resource: FrozenDict
    contextualisation: FrozenDict | None = None
    config_management: FrozenDict = DEFAULT_CONFIG_MANAGEMENT
    health_check: FrozenDict = FrozenDict(ping=True)

    @property
    def resource_type(self) -> str:
        return self.resource["type"]

    def to_dict(self) -> dict[str, Any]:
        return {"resource": thaw(self.resource),
                "contextualisation": thaw(self.contextualisation),
                "config_management": thaw(self.config_management),
                "health_check": thaw(self.health_check)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Implementation:
        resource = _need(d, "resource", "implementation")
        if not isinstance(resource, Mapping) or "type" not in resource:
            raise InvalidModelError("not a compiled implementation: resource has no type")
        context = d.get("contextualisation")
        return cls(resource=freeze(resource),
                   contextualisation=freeze(context) if context is not None else None,
                   config_management=freeze(d.get("config_management")
                                            or DEFAULT_CONFIG_MANAGEMENT),
                   health_check=freeze(normalize_health_check(d.get("health_check"))))


def normalize_health_check(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The health check with Occopus's default filled in: ``ping`` is on unless disabled."""
    out = dict(section or {})
    out.setdefault("ping", True)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeDefinition:
    """A node type and its implementations (``'node_def:<type>'`` in the YAML file).

    ``source`` is the file it was read from, if any (for messages; not part of equality).
    """

    type: str
    implementations: tuple[Implementation, ...]
    source: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type,
                "implementations": [impl.to_dict() for impl in self.implementations]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NodeDefinition:
        impls = _need(d, "implementations", "node definition")
        if not isinstance(impls, (list, tuple)) or not impls:
            raise InvalidModelError("not a compiled node definition: no implementations")
        return cls(type=str(_need(d, "type", "node definition")),
                   implementations=tuple(Implementation.from_dict(i) for i in impls))


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeMapping:
    """An Occopus attribute mapping on an edge: ``target`` of the dependent is fed from
    ``source`` of the dependency (upstream); ``synch`` makes the dependency count as
    ready only once ``source`` has a value, so the dependent waits for it."""

    source: str
    target: str
    synch: bool = False
    extra: FrozenDict = EMPTY

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": [self.source, self.target], "synch": self.synch}
        if self.extra:
            out["extra"] = thaw(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AttributeMapping:
        attrs = _need(d, "attributes", "attribute mapping")
        if not isinstance(attrs, (list, tuple)) or len(attrs) != 2:
            raise InvalidModelError("not a compiled attribute mapping: attributes is not a pair")
        return cls(source=str(attrs[0]), target=str(attrs[1]), synch=bool(d.get("synch")),
                   extra=freeze(d.get("extra") or {}))

    def occopus_form(self) -> dict[str, Any]:
        """As Occopus's ``create_mapping`` gives it to mediating services: the pair, the
        synch flag and every extra key beside them."""
        return {**thaw(self.extra), "attributes": [self.source, self.target],
                "synch": self.synch}


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """``dependent`` waits for ``dependency``. ``inferred_from`` is set when the edge was
    not written but inferred from a template call such as ``getip('db')``."""

    dependent: str
    dependency: str
    mappings: tuple[AttributeMapping, ...] = ()
    inferred_from: str | None = None
    extra: FrozenDict = EMPTY

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dependent": self.dependent, "dependency": self.dependency,
                               "mappings": [m.to_dict() for m in self.mappings]}
        if self.inferred_from:
            out["inferred_from"] = self.inferred_from
        if self.extra:
            out["extra"] = thaw(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Edge:
        return cls(dependent=str(_need(d, "dependent", "edge")),
                   dependency=str(_need(d, "dependency", "edge")),
                   mappings=tuple(AttributeMapping.from_dict(m) for m in d.get("mappings") or ()),
                   inferred_from=d.get("inferred_from"), extra=freeze(d.get("extra") or {}))


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One node of the infrastructure, with everything needed to create its instances.

    ``variables`` are already merged (infrastructure variables under the node's own);
    ``implementations`` are those of its type that pass its ``filter``, in definition
    order; choose among them with :class:`~occo.compiler.ImplementationChooser`.
    """

    name: str
    type: str
    scaling: Scaling
    filter: FrozenDict = EMPTY
    variables: FrozenDict = EMPTY
    implementations: tuple[Implementation, ...] = ()
    create_timeout: int | float | None = None
    attributes: FrozenDict | None = None
    update: Update = DEFAULT_UPDATE

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "type": self.type, "scaling": self.scaling.to_dict(),
            "filter": thaw(self.filter), "variables": thaw(self.variables),
            "implementations": [impl.to_dict() for impl in self.implementations]}
        if self.create_timeout is not None:
            out["create_timeout"] = self.create_timeout
        if self.attributes is not None:
            out["attributes"] = thaw(self.attributes)
        if self.update != DEFAULT_UPDATE:
            out["update"] = self.update.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Node:
        scaling = d.get("scaling") or {}
        attributes = d.get("attributes")
        try:
            smin, smax = int(scaling.get("min", 1)), int(scaling.get("max", 1))
        except (TypeError, ValueError, AttributeError):
            raise InvalidModelError("not a compiled node: bad scaling") from None
        return cls(name=str(_need(d, "name", "node")), type=str(_need(d, "type", "node")),
                   scaling=Scaling(min=smin, max=smax),
                   filter=freeze(d.get("filter") or {}), variables=freeze(d.get("variables") or {}),
                   implementations=tuple(Implementation.from_dict(i)
                                         for i in d.get("implementations") or ()),
                   create_timeout=d.get("create_timeout"),
                   attributes=freeze(attributes) if attributes is not None else None,
                   update=Update.from_dict(d.get("update")))


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticDescription:
    """A compiled infrastructure: nodes, the dependency graph and its order.

    The order and the dependency queries are derived from ``nodes`` and ``edges`` when
    the object is made, so they can never disagree with them. ``warnings`` are the
    non-fatal findings of the compile (e.g. dependencies inferred from templates).
    """

    infra_name: str
    user_id: str | None = None
    variables: FrozenDict = EMPTY
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    warnings: tuple[str, ...] = ()
    levels: tuple[tuple[str, ...], ...] = field(init=False, repr=False)
    topological_order: tuple[str, ...] = field(init=False, repr=False)
    _by_name: dict[str, Node] = field(init=False, repr=False, compare=False)
    _deps: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _dependents: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _level: dict[str, int] = field(init=False, repr=False, compare=False)
    _edges: dict[tuple[str, str], Edge] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {node.name: node for node in self.nodes}
        if len(by_name) != len(self.nodes):
            raise InvalidModelError("duplicate node names in a compiled description")
        deps: dict[str, list[str]] = {name: [] for name in by_name}
        dependents: dict[str, list[str]] = {name: [] for name in by_name}
        edges: dict[tuple[str, str], Edge] = {}
        for edge in self.edges:
            if edge.dependent not in by_name or edge.dependency not in by_name:
                raise InvalidModelError(f"edge {edge.dependent!r} -> {edge.dependency!r} "
                                        "names a node the description does not have")
            edges[(edge.dependent, edge.dependency)] = edge
            deps[edge.dependent].append(edge.dependency)
            dependents[edge.dependency].append(edge.dependent)
        try:
            levels = tuple(topological_levels(list(by_name), deps))
        except CycleError as exc:
            raise InvalidModelError(f"the dependencies form a cycle: {exc.args[1]}") from None
        setter = object.__setattr__
        setter(self, "levels", levels)
        setter(self, "topological_order", tuple(n for level in levels for n in level))
        setter(self, "_by_name", by_name)
        setter(self, "_deps", {k: tuple(v) for k, v in deps.items()})
        setter(self, "_dependents", {k: tuple(v) for k, v in dependents.items()})
        setter(self, "_level", {n: i for i, level in enumerate(levels) for n in level})
        setter(self, "_edges", edges)

    # -- queries ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def node(self, name: str) -> Node:
        """The node called ``name`` (``KeyError`` naming the known nodes if none)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no node {name!r} in {self.infra_name!r}; "
                           f"nodes: {', '.join(self._by_name)}") from None

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def dependencies_of(self, name: str) -> tuple[str, ...]:
        """The nodes ``name`` waits for directly."""
        self.node(name)
        return self._deps[name]

    def dependents_of(self, name: str) -> tuple[str, ...]:
        """The nodes that wait for ``name`` directly."""
        self.node(name)
        return self._dependents[name]

    def edge(self, dependent: str, dependency: str) -> Edge:
        """The edge from ``dependent`` to ``dependency`` (``KeyError`` if none)."""
        return self._edges[(dependent, dependency)]

    def level_of(self, name: str) -> int:
        """0 for a node with no dependencies, else 1 + the highest level it waits for."""
        self.node(name)
        return self._level[name]

    @property
    def depth(self) -> int:
        """The number of levels: the longest chain of nodes each waiting for the next
        (1 when nothing depends on anything, 0 for no nodes)."""
        return len(self.levels)

    @property
    def instances_at_min(self) -> int:
        """How many instances the infrastructure has when every node is at its minimum."""
        return sum(node.scaling.min for node in self.nodes)

    def summary(self) -> str:
        """One line for ``occo validate``: nodes, instances at min scale, depth."""
        return summary_line(self)

    # -- dict form -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The plain, JSON-able form stored by the info broker (docs/compiler.rst)."""
        return {"format": FORMAT_VERSION, "infra_name": self.infra_name,
                "user_id": self.user_id, "variables": thaw(self.variables),
                "nodes": [node.to_dict() for node in self.nodes],
                "edges": [edge.to_dict() for edge in self.edges],
                "topological_order": list(self.topological_order),
                "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StaticDescription:
        """Rebuild from :meth:`to_dict`'s form; the order is recomputed, not trusted."""
        if not isinstance(d, Mapping):
            raise InvalidModelError("not a compiled description: not a mapping")
        version = d.get("format")
        if version != FORMAT_VERSION:
            raise InvalidModelError(f"compiled description format {version!r} is not "
                                    f"supported (expected {FORMAT_VERSION})")
        user_id = d.get("user_id")
        return cls(infra_name=str(_need(d, "infra_name", "description")),
                   user_id=str(user_id) if user_id is not None else None,
                   variables=freeze(d.get("variables") or {}),
                   nodes=tuple(Node.from_dict(n) for n in _need(d, "nodes", "description")),
                   edges=tuple(Edge.from_dict(e) for e in d.get("edges") or ()),
                   warnings=tuple(str(w) for w in d.get("warnings") or ()))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(description: StaticDescription) -> str:
    """``wordpress: 2 nodes, 3 instances at min scale, dependency depth 2``.

    The depth counts levels (see :attr:`StaticDescription.depth`).
    """
    return (f"{description.infra_name}: {_plural(len(description.nodes), 'node')}, "
            f"{_plural(description.instances_at_min, 'instance')} at min scale, "
            f"dependency depth {description.depth}")
