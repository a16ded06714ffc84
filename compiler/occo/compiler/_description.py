"""Reading an infrastructure description (FORMATS.md section 1) into checked raw parts.

Node references in ``dependencies`` are resolved here: a YAML alias is the very object
of the node it names (found through an ``id()`` table, so resolution is O(1) per
reference), and a string is a node name. Both give the same node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from occo.util import (
    InputError,
    LimitExceededError,
    Location,
    YamlLimits,
    describe_value,
    join_path,
    location_of,
)

from ._collect import ErrorCollector
from ._names import check_name
from ._sections import (
    DEPENDENCY_SCHEMA,
    INFRA_SCHEMA,
    MAPPING_SCHEMA,
    NODE_SCHEMA,
    SCALING_SCHEMA,
    UPDATE_SCHEMA,
    check_section,
    closest,
    suggestion,
)
from .frozen import EMPTY, freeze
from .limits import DEFAULT_INSTANCE_LIMITS, InstanceLimits
from .model import DEFAULT_UPDATE, AttributeMapping, Scaling, Update

DEPENDENCY_KEYS = frozenset(DEPENDENCY_SCHEMA.names)
#: the longest a rollout step may wait for a new instance to settle (update.min_ready_seconds)
MAX_MIN_READY = 3600
#: the loader's bound on a document's values, aliases expanded, by default
DEFAULT_MAX_VALUES = YamlLimits().max_expanded_nodes
MAPPING_KEYS = frozenset(MAPPING_SCHEMA.names)

__all__ = ["RawNode", "RawEdge", "RawDescription", "parse_description", "deep_merge"]


@dataclass(slots=True)
class RawNode:
    """One entry of ``nodes``, checked; ``name`` is ``None`` if it was not valid."""

    index: int
    data: Any
    path: str
    name: str | None = None
    type: str | None = None
    scaling: Scaling | None = None
    filter: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)
    create_timeout: int | float | None = None
    attributes: Mapping[str, Any] | None = None
    update: Update = DEFAULT_UPDATE

    def location(self, key: str | None = None) -> Location | None:
        if key is None:
            return location_of(self.data, path=self.path)
        return location_of(self.data, key, path=f"{self.path}.{key}")


@dataclass(slots=True)
class RawEdge:
    """``dependent`` waits for ``dependency``, as written in ``pair`` at ``path``."""

    dependent: str
    dependency: str
    mappings: list[AttributeMapping]
    pair: Any
    path: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def location(self) -> Location | None:
        return location_of(self.pair, path=self.path)


@dataclass(slots=True)
class RawDescription:
    data: Any
    #: values the nodes' merged variables may hold in all (each node holds a copy of the
    #: infrastructure's variables under its own): what is left of it
    merge_budget: int = 0
    budget_given: int = 0
    shared_values: int | None = None
    infra_name: str | None = None
    user_id: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    nodes: list[RawNode] = field(default_factory=list)
    by_name: dict[str, RawNode] = field(default_factory=dict)
    edges: dict[tuple[str, str], RawEdge] = field(default_factory=dict)


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged onto ``base``: mappings merge key by key, anything else in
    ``over`` replaces what ``base`` has (lists are replaced, not concatenated)."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def count_values(value: Any) -> int:
    """How many values (scalars, collections, keys) ``value`` holds, aliases expanded."""
    count, todo = 0, [value]
    while todo:
        item = todo.pop()
        count += 1
        if isinstance(item, dict):
            count += len(item)
            todo.extend(item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
    return count


def parse_description(data: Any, errors: ErrorCollector, source: str | None = None,
                      limits: InstanceLimits = DEFAULT_INSTANCE_LIMITS,
                      max_values: int = DEFAULT_MAX_VALUES) -> RawDescription:
    """Check ``data`` (a loaded description, read from file ``source`` if any) and return
    its parts; problems go to ``errors``. ``limits`` bound the instances it may ask for,
    ``max_values`` the values of the nodes' merged variables, all nodes together."""
    raw = RawDescription(data=data, merge_budget=max_values, budget_given=max_values)
    if not isinstance(data, dict):
        where = location_of(data) or Location(file=source)
        errors.add(InputError(f"an infrastructure description must be a mapping with "
                              f"infra_name and nodes, got {describe_value(data)}",
                              location=where))
        return raw
    check_section(INFRA_SCHEMA, data, "", errors, templates=False)
    raw.infra_name = check_name(data.get("infra_name"), "infra_name", data, "infra_name",
                                "infra_name", errors)
    user_id = data.get("user_id")
    raw.user_id = str(user_id) if isinstance(user_id, (str, int)) \
        and not isinstance(user_id, bool) else None
    variables = data.get("variables")
    raw.variables = variables if isinstance(variables, dict) else {}
    nodes = data.get("nodes")
    if isinstance(nodes, list):
        if not nodes:
            errors.add(InputError("must list at least one node, got an empty list",
                                  location=location_of(data, "nodes", path="nodes")))
        for i, item in enumerate(nodes):
            _parse_node(raw, nodes, i, item, errors, limits)
        too_many = limits.check_total(
            ((n.name or n.path, n.scaling.max) for n in raw.nodes if n.scaling is not None),
            where=location_of(data, "nodes", of_key=True))
        if too_many is not None:
            errors.add(too_many)
    deps = data.get("dependencies")
    if isinstance(deps, dict) and deps:
        errors.add(InputError("dependencies must be a list of edges (an empty mapping means "
                              "none), got a mapping with keys; write each edge as a list "
                              "item: - [dependent, dependency]",
                              location=location_of(data, "dependencies", path="dependencies")))
    if isinstance(deps, list):
        by_id = {id(n.data): n for n in raw.nodes}
        for i, item in enumerate(deps):
            _parse_dependency(raw, deps, i, item, by_id, errors)
    return raw


def _parse_node(raw: RawDescription, nodes: list, i: int, item: Any,
                errors: ErrorCollector, limits: InstanceLimits) -> None:
    path = f"nodes[{i}]"
    node = RawNode(index=i, data=item, path=path)
    raw.nodes.append(node)
    if not check_section(NODE_SCHEMA, item, path, errors, parent=nodes, key=i,
                         templates=False) and not isinstance(item, dict):
        return
    name = check_name(item.get("name"), "node name", item, "name", f"{path}.name", errors)
    if name is not None:
        first = raw.by_name.get(name)
        if first is not None:
            first_loc = first.location("name")
            line = f", line {first_loc.line}" if first_loc and first_loc.line else ""
            errors.add(InputError(f"duplicate node name {name!r}: {first.path}{line} "
                                  f"already has it", location=node.location("name")))
        else:
            raw.by_name[name] = node
            node.name = name
    node_type = item.get("type")
    if isinstance(node_type, str):
        if node_type.strip() and not any(c.isspace() for c in node_type):
            node.type = node_type
        else:
            errors.add(InputError(f"a node type must be a non-empty word, got {node_type!r}",
                                  location=node.location("type")))
    node.scaling = _parse_scaling(item, path, errors, limits, name)
    for key in ("filter", "variables"):
        value = item.get(key)
        if isinstance(value, dict):
            setattr(node, key, value)
    node.variables = _merged_variables(raw, node, errors)
    timeout = item.get("create_timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout >= 0:
        node.create_timeout = timeout
    attributes = item.get("attributes")
    if isinstance(attributes, dict):
        node.attributes = attributes
    node.update = _parse_update(item, path, errors)


def _merged_variables(raw: RawDescription, node: RawNode,
                      errors: ErrorCollector) -> Mapping[str, Any]:
    """The node's variables over the infrastructure's, within what is left of the budget
    (a copy per node: a million nodes each merging a large ``variables`` would make a
    compiled form quadratic in the description's size)."""
    if raw.merge_budget < 0:
        return raw.variables  # over the budget, reported once: no more copies
    shared = raw.shared_values if raw.shared_values is not None else \
        count_values(raw.variables)
    raw.shared_values = shared
    raw.merge_budget -= shared + (count_values(node.variables) if node.variables else 0)
    if raw.merge_budget < 0:
        where = location_of(raw.data, "variables", path="variables", of_key=True) \
            if raw.variables else node.location("variables")
        errors.add(LimitExceededError(
            f"the nodes' variables, each merged over the infrastructure's "
            f"({shared} values), hold more than {raw.budget_given} values in all "
            f"(node {node.path} is the first beyond it): make the shared variables or "
            f"the number of nodes smaller", location=where))
        return raw.variables
    return deep_merge(raw.variables, node.variables) if node.variables else raw.variables


def _parse_update(item: dict, path: str, errors: ErrorCollector) -> Update:
    """The node's ``update`` section (an OCCO extension): the rollout's limits."""
    update = item.get("update")
    if not isinstance(update, dict):
        return DEFAULT_UPDATE   # absent, or not a mapping (the node's schema said so)
    upath = f"{path}.update"
    if not check_section(UPDATE_SCHEMA, update, upath, errors, parent=item, key="update",
                         templates=False):
        return DEFAULT_UPDATE
    surge = update.get("max_surge", DEFAULT_UPDATE.max_surge)
    unavailable = update.get("max_unavailable", DEFAULT_UPDATE.max_unavailable)
    if surge == 0 and unavailable == 0:
        errors.add(InputError(
            "max_surge and max_unavailable must not both be 0: a replacement could then "
            "neither add an instance nor take one away",
            location=location_of(update, path=upath)))
        return DEFAULT_UPDATE
    settle = update.get("min_ready_seconds", DEFAULT_UPDATE.min_ready_seconds)
    if settle > MAX_MIN_READY:
        errors.add(InputError(
            f"min_ready_seconds: at most {MAX_MIN_READY} (an hour) per step, got {settle:g}",
            location=location_of(update, "min_ready_seconds",
                                 path=f"{upath}.min_ready_seconds")))
        return DEFAULT_UPDATE
    return Update(max_surge=surge, max_unavailable=unavailable,
                  min_ready_seconds=settle)


def _parse_scaling(item: dict, path: str, errors: ErrorCollector, limits: InstanceLimits,
                   name: str | None) -> Scaling | None:
    scaling = item.get("scaling")
    if scaling is None:
        return Scaling(min=1, max=1)
    spath = f"{path}.scaling"
    if not check_section(SCALING_SCHEMA, scaling, spath, errors, parent=item, key="scaling",
                         templates=False):
        return None
    too_many = limits.check_node(scaling, spath, name)
    if too_many:
        errors.extend(too_many)
        return None
    smin = scaling.get("min", 1)
    smax = scaling.get("max", smin)
    if smin > smax:
        errors.add(InputError(f"min ({smin}) must not be greater than max ({smax})",
                              location=location_of(scaling, "min", path=f"{spath}.min")))
        return None
    return Scaling(min=smin, max=smax)


def _ref_location(container: Any, i: int, ref: Any, path: str) -> Location | None:
    # An alias is the node's own object, whose recorded position is the node's, not the
    # reference's; point at the list holding the reference instead.
    if isinstance(ref, dict):
        return location_of(container, path=path)
    return location_of(container, i, path=path)


def _resolve_ref(raw: RawDescription, container: Any, i: int, ref: Any, path: str,
                 by_id: dict[int, RawNode], errors: ErrorCollector) -> str | None:
    """The name of the node ``ref`` refers to, or ``None`` (reported, unless the node
    itself was invalid and is reported already)."""
    if isinstance(ref, str):
        node = raw.by_name.get(ref)
        if node is None:
            errors.add(InputError(f"dependency on unknown node {ref!r}"
                                  f"{suggestion(ref, raw.by_name)}",
                                  location=_ref_location(container, i, ref, path)))
            return None
        return node.name
    if isinstance(ref, dict):
        node = by_id.get(id(ref))
        if node is not None:
            return node.name  # None if that node's own entry was invalid (reported)
        name = ref.get("name")
        if isinstance(name, str) and name in raw.by_name:
            return name
        errors.add(InputError("a node reference must be an alias of a node (like *WEB) or "
                              "a node's name, got a mapping that is not one of the nodes",
                              location=_ref_location(container, i, ref, path)))
        return None
    errors.add(InputError(f"a node reference must be an alias of a node (like *WEB) or a "
                          f"node's name, got {describe_value(ref)}",
                          location=_ref_location(container, i, ref, path)))
    return None


def _parse_dependency(raw: RawDescription, deps: list, i: int, item: Any,
                      by_id: dict[int, RawNode], errors: ErrorCollector) -> None:
    path = f"dependencies[{i}]"
    mappings: list[AttributeMapping] = []
    extra: dict[str, Any] = {}
    if isinstance(item, list):
        pair, pair_path = item, path
    elif isinstance(item, dict):
        if not check_section(DEPENDENCY_SCHEMA, item, path, errors, parent=deps, key=i,
                             templates=False):
            if "connection" not in item:
                _extra_keys(item, DEPENDENCY_KEYS, "dependency", path, errors, fatal=True)
            return
        pair, pair_path = item["connection"], f"{path}.connection"
        extra = _extra_keys(item, DEPENDENCY_KEYS, "dependency", path, errors)
        for k, mapping in enumerate(item.get("mappings") or ()):
            parsed = _parse_mapping(item["mappings"], k, mapping, f"{path}.mappings[{k}]",
                                    errors)
            if parsed is not None:
                mappings.append(parsed)
    else:
        errors.add(InputError(f"a dependency must be a pair [dependent, dependency] or a "
                              f"mapping with 'connection', got {describe_value(item)}",
                              location=location_of(deps, i, path=path)))
        return
    if len(pair) != 2:
        errors.add(InputError(f"a dependency connects exactly two nodes [dependent, "
                              f"dependency], got {len(pair)}",
                              location=location_of(pair, path=pair_path)))
        return
    ends = [_resolve_ref(raw, pair, k, ref, f"{pair_path}[{k}]", by_id, errors)
            for k, ref in enumerate(pair)]
    dependent, dependency = ends
    if dependent is None or dependency is None:
        return
    if dependent == dependency:
        errors.add(InputError(f"node {dependent!r} depends on itself",
                              location=location_of(pair, path=pair_path)))
        return
    known = raw.edges.get((dependent, dependency))
    if known is not None:  # the same edge written twice: one edge, all its mappings
        known.mappings.extend(mappings)
        known.extra.update(extra)
    else:
        raw.edges[(dependent, dependency)] = RawEdge(dependent, dependency, mappings, pair,
                                                     pair_path, extra)


def _extra_keys(item: dict, known: frozenset[str], what: str, path: str,
                errors: ErrorCollector, *, fatal: bool = False) -> dict[str, Any]:
    """The keys of ``item`` beyond ``known``: Occopus keeps them for mediating services,
    and so does OCCO. One that looks like a misspelt known key is worth a warning (an
    error, with ``fatal``, where the known key is missing and the item is refused)."""
    extra: dict[str, Any] = {}
    for key, value in item.items():
        if key in known:
            continue
        extra[str(key)] = value
        hint = closest(key, known)
        if hint is None:
            continue
        where = location_of(item, key, path=join_path(path, key), of_key=True)
        if fatal:
            errors.add(InputError(f"unknown key {key!r} in {what}; did you mean {hint!r}?",
                                  location=where))
        else:
            errors.warn(f"{where}: key {key!r} of a {what} is kept as an extra key (Occopus "
                        f"passes such keys on); did you mean {hint!r}?")
    return extra


def _parse_mapping(container: list, k: int, mapping: Any, path: str,
                   errors: ErrorCollector) -> AttributeMapping | None:
    if isinstance(mapping, list):
        attrs, synch, where = mapping, False, location_of(container, k, path=path)
        extra = {}
    elif isinstance(mapping, dict):
        if not check_section(MAPPING_SCHEMA, mapping, path, errors, parent=container, key=k,
                             templates=False):
            return None
        attrs, synch = mapping["attributes"], bool(mapping.get("synch", False))
        extra = _extra_keys(mapping, MAPPING_KEYS, "attribute mapping", path, errors)
        where = location_of(mapping, "attributes", path=f"{path}.attributes")
    else:
        errors.add(InputError(f"an attribute mapping must be a pair [source, target] or a "
                              f"mapping with 'attributes', got {describe_value(mapping)}",
                              location=location_of(container, k, path=path)))
        return None
    if len(attrs) != 2 or not all(isinstance(a, str) and a for a in attrs):
        errors.add(InputError(f"an attribute mapping needs two attribute names "
                              f"[source, target], got {describe_value(list(attrs))}",
                              location=where))
        return None
    return AttributeMapping(source=attrs[0], target=attrs[1], synch=synch,
                            extra=freeze(extra) if extra else EMPTY)
