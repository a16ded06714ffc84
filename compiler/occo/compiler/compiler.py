"""compile_infrastructure(): from a description and node definitions to a StaticDescription.

One pass collects every problem (up to ``error_limit``) and raises them together as
:class:`~occo.compiler.errors.CompileErrors`; nothing but the given files (and the
include files they name) is read, and nothing is written.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from occo.util import (
    CONFIG_MANAGER_NAMES,
    HEALTH_CHECK_NAMES,
    TEMPLATE_NAMES,
    InputError,
    Location,
    Schema,
    YamlLimits,
    load_yaml_file,
)

from ._collect import DEFAULT_ERROR_LIMIT, ErrorCollector
from ._description import RawDescription, RawNode, parse_description
from ._graph import ancestor_sets, find_cycles, topological_levels
from ._nodedefs import DefinitionParser, TypeDef
from ._sections import NODE_DEF_PREFIX, suggestion
from ._templates import NAME, VARIABLE, TemplateRef, TemplateScanner
from .choose import matches_filter
from .errors import (
    CompileErrors,
    DependencyCycleError,
    NoMatchingImplementationError,
    TemplateReferenceError,
    UnknownNodeTypeError,
)
from .frozen import EMPTY, freeze
from .limits import DEFAULT_INSTANCE_LIMITS, InstanceLimits
from .model import Edge, Node, NodeDefinition, StaticDescription
from .registry import Registry

__all__ = ["compile_infrastructure", "load_node_definitions", "TemplateDependencies",
           "DEFINITION_FILES"]

log = logging.getLogger(__name__)

#: Where node definitions are looked for, relative to the description, in this order.
DEFINITION_FILES = ("nodes/node_definitions.yaml", "node_definitions.yaml")

PathLike = str | os.PathLike


class TemplateDependencies(StrEnum):
    """What to do when a template asks for a node (``getip('db')``) that its node does
    not depend on."""

    INFER = "infer"   # add the dependency and warn (Occopus files often leave it out)
    ERROR = "error"   # reject the description


def _located(exc: InputError, path: Path) -> InputError:
    """The loader's error, naming the file it was loading if it names no place itself
    (a file too large, or missing, is refused before any line is read)."""
    if exc.location is None:
        exc.location = Location(file=str(path.resolve()))
    return exc


def _nul_in_name(path: Path) -> InputError | None:
    """The error for a file name with a NUL character (no system call can take it: Python
    raises ValueError), naming the file as given; else None."""
    if "\x00" not in str(path):
        return None
    shown = str(path).replace("\x00", "\\x00")
    return InputError("a file name cannot contain a NUL character (shown as \\x00)",
                      location=Location(file=shown))


def _load(path: Path, root: Path | None, errors: ErrorCollector, limits: YamlLimits | None,
          allow_outside: bool) -> tuple[bool, Any]:
    try:
        return True, load_yaml_file(path, root=root, allow_outside=allow_outside,
                                    limits=limits)
    except InputError as exc:
        errors.add(_located(exc, path))
        return False, None


class _Definitions:
    """The node types available to one compile, and where they were looked for."""

    def __init__(self) -> None:
        self.types: dict[str, TypeDef] = {}
        self.searched: list[str] = []
        self.complete = True  # False when a definitions file could not be read

    def add(self, found: dict[str, TypeDef], errors: ErrorCollector) -> None:
        for node_type, typedef in found.items():
            first = self.types.get(node_type)
            if first is not None:
                errors.add(InputError(
                    f"node type {node_type!r} is defined twice; the first definition is at "
                    f"{first.location or first.source}", location=typedef.location))
                continue
            self.types[node_type] = typedef


def _gather_definitions(given: Any, base: Path | None, parser: DefinitionParser,
                        errors: ErrorCollector, limits: YamlLimits | None,
                        allow_outside: bool) -> _Definitions:
    defs = _Definitions()
    if isinstance(given, Mapping):
        defs.searched.append("the node definitions given")
        defs.add(parser.parse_mapping(given), errors)
        return defs
    if given is None:
        if base is None:
            return defs
        paths = [base / name for name in DEFINITION_FILES]
        defs.searched.extend(str(p) for p in paths)
        paths = [p for p in paths if p.is_file()]
    else:
        items = [given] if isinstance(given, (str, os.PathLike)) else list(given)
        paths = [Path(p) for p in items]
        defs.searched.extend(str(p) for p in paths)
    for path in paths:
        if (bad := _nul_in_name(path)) is not None:
            errors.add(bad)
            defs.complete = False
            continue
        resolved = path.resolve()
        root = base if base is not None and resolved.is_relative_to(base) else resolved.parent
        ok, data = _load(path, root, errors, limits, allow_outside)
        if not ok:
            defs.complete = False
            continue
        defs.add(parser.parse_file_data(data, str(path)), errors)
    return defs


def load_node_definitions(paths: PathLike | Iterable[PathLike], *,
                          resource_schemas: Mapping[str, Schema] | None = None,
                          config_managers: Iterable[str] | None = None,
                          health_checks: Iterable[str] | None = None,
                          root: PathLike | None = None, allow_outside: bool = False,
                          yaml_limits: YamlLimits | None = None,
                          error_limit: int = DEFAULT_ERROR_LIMIT) -> dict[str, NodeDefinition]:
    """Load and check node definition files (what ``occo import`` stores).

    Include tags may not leave ``root`` (default: each file's own directory). Raises
    :class:`CompileErrors` with every problem of every file.
    """
    errors = ErrorCollector(error_limit)
    registry = Registry.resolve(resource_schemas, config_managers, health_checks)
    parser = DefinitionParser(registry, errors, TemplateScanner())
    base = Path(root).resolve() if root is not None else None
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    defs = _gather_definitions(items, base, parser, errors, yaml_limits, allow_outside)
    errors.raise_if_any()
    return {t: d.definition for t, d in defs.types.items() if d.definition is not None}


def compile_infrastructure(
        description: PathLike | Mapping[str, Any],
        node_definitions: PathLike | Sequence[PathLike] | Mapping[str, Any] | None = None,
        *,
        resource_schemas: Mapping[str, Schema] | None = None,
        config_managers: Iterable[str] | None = None,
        health_checks: Iterable[str] | None = None,
        template_dependencies: TemplateDependencies | str = TemplateDependencies.INFER,
        allow_outside: bool = False,
        yaml_limits: YamlLimits | None = None,
        instance_limits: InstanceLimits | None = None,
        error_limit: int = DEFAULT_ERROR_LIMIT) -> StaticDescription:
    """Load, check and compile an infrastructure description.

    ``description`` is a path (a ``str`` is always a path) or an already-loaded mapping
    (API input: load text with ``occo.util.load_yaml_text`` first). ``node_definitions``
    are paths, a mapping ``{type: [implementation, ...]}`` or ``{type: NodeDefinition}``,
    or ``None`` to look next to the description (:data:`DEFINITION_FILES`).
    ``resource_schemas``, ``config_managers`` and ``health_checks`` default to what the
    entry point groups declare (see :mod:`occo.compiler.registry`). ``instance_limits``
    bound the instances per node and per infrastructure (see :mod:`occo.compiler.limits`).

    Raises :class:`~occo.compiler.errors.CompileErrors` holding every problem found.
    """
    mode = TemplateDependencies(template_dependencies)
    errors = ErrorCollector(error_limit)
    registry = Registry.resolve(resource_schemas, config_managers, health_checks)
    base: Path | None = None
    source: str | None = None
    if isinstance(description, Mapping):
        data: Any = description
    else:
        path = Path(description)
        if (bad := _nul_in_name(path)) is not None:
            raise CompileErrors([bad])
        source = str(path.resolve())
        base = path.resolve().parent
        try:
            data = load_yaml_file(path, root=base, allow_outside=allow_outside,
                                  limits=yaml_limits)
        except InputError as exc:
            raise CompileErrors([_located(exc, path)]) from exc
    raw = parse_description(data, errors, source, instance_limits or DEFAULT_INSTANCE_LIMITS,
                            (yaml_limits or YamlLimits()).max_expanded_nodes)
    scanner = TemplateScanner()
    parser = DefinitionParser(registry, errors, scanner)
    defs = _gather_definitions(node_definitions, base, parser, errors, yaml_limits,
                               allow_outside)
    return _Compilation(raw, defs, scanner, errors, mode).run()


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A node whose type was found: the type, its definition and the indices of the
    implementations the node's filter keeps."""

    typedef: TypeDef
    definition: NodeDefinition
    kept: list[int]


class _Compilation:
    """The steps after parsing: types, filters, graph, template references, model."""

    def __init__(self, raw: RawDescription, defs: _Definitions, scanner: TemplateScanner,
                 errors: ErrorCollector, mode: TemplateDependencies) -> None:
        self.raw = raw
        self.defs = defs
        self.scanner = scanner
        self.errors = errors
        self.mode = mode
        self.impls: dict[str, _Resolved] = {}  # node -> its type and kept implementations

    def run(self) -> StaticDescription:
        raw = self.raw
        for node in raw.nodes:
            self._resolve_type(node)
        names = [n.name for n in raw.nodes if n.name is not None]
        deps: dict[str, list[str]] = {name: [] for name in names}
        for (dependent, dependency) in raw.edges:
            deps[dependent].append(dependency)
        cycles = self._report_cycles(names, deps, {})
        inferred = self._check_templates(names, deps, check_ancestry=not cycles)
        if inferred:
            for edge in inferred:
                deps[edge.dependent].append(edge.dependency)
            self._report_cycles(names, deps, {(e.dependent, e.dependency): e for e in inferred})
        self.errors.raise_if_any()
        return self._build(inferred)

    # -- node types and filters ------------------------------------------------------

    def _resolve_type(self, node: RawNode) -> None:
        name, node_type = node.name, node.type
        if name is None or node_type is None:
            return  # an invalid entry, reported already
        typedef = self.defs.types.get(node_type)
        if typedef is None:
            if self.defs.complete:
                self.errors.add(self._unknown_type(node, node_type))
            return
        definition = typedef.definition
        if definition is None:
            return  # its implementations are reported already
        if not node.filter:
            self.impls[name] = _Resolved(typedef, definition,
                                         list(range(len(definition.implementations))))
            return
        kept = [i for i, impl in enumerate(definition.implementations)
                if matches_filter(impl.resource, node.filter)]
        if not kept:
            kinds = ", ".join(sorted({impl.resource_type for impl in definition.implementations}))
            self.errors.add(NoMatchingImplementationError(
                f"the filter of node {node.name!r} matches none of the "
                f"{len(definition.implementations)} implementation(s) of type {node.type!r} "
                f"(resource types: {kinds}); a filter must be a sub-mapping of an "
                f"implementation's resource section", location=node.location("filter"),
                node=node.name))
            return
        self.impls[name] = _Resolved(typedef, definition, kept)

    def _unknown_type(self, node: RawNode, node_type: str) -> UnknownNodeTypeError:
        searched = self.defs.searched
        if searched:
            where = f"none of {', '.join(searched)} defines '{NODE_DEF_PREFIX}{node.type}'"
        else:
            where = ("no node definitions were given (pass them, or import them first, "
                     "when the description is not a file)")
        hint = suggestion(node.type, self.defs.types)
        hint = hint if hint.startswith("; did") else ""
        return UnknownNodeTypeError(
            f"node {node.name!r} has type {node.type!r}, which has no definition: "
            f"{where}{hint}", node_type=node_type, searched=searched,
            location=node.location("type"), node=node.name)

    # -- graph -----------------------------------------------------------------------

    def _report_cycles(self, names: list[str], deps: Mapping[str, list[str]],
                       inferred: Mapping[tuple[str, str], Edge]) -> bool:
        cycles = find_cycles(names, deps)
        for cycle in cycles:
            pairs = list(zip(cycle, cycle[1:]))
            notes = [f"{a} -> {b} is inferred from {inferred[(a, b)].inferred_from}"
                     for a, b in pairs if (a, b) in inferred]
            written = [p for p in self.raw.edges if p in set(pairs)]  # in writing order
            where = self.raw.edges[written[0]].location if written else None
            text = " -> ".join(cycle)
            extra = f" ({'; '.join(notes)})" if notes else ""
            self.errors.add(DependencyCycleError(
                f"the dependencies form a cycle: {text}{extra}", cycle=cycle, location=where))
        return bool(cycles)

    # -- templates -------------------------------------------------------------------

    def _node_refs(self, node: RawNode, resolved: _Resolved) -> list[TemplateRef]:
        refs = [ref for i in resolved.kept for ref in resolved.typedef.refs[i]]
        for key in ("variables", "attributes"):
            value = node.data.get(key)
            if isinstance(value, dict):
                problems: list[InputError] = []
                refs.extend(self.scanner.scan(value, f"{node.path}.{key}", parent=node.data,
                                              key=key, errors=problems))
                self.errors.extend(problems)
        return refs

    def _check_templates(self, names: list[str], deps: Mapping[str, list[str]],
                         check_ancestry: bool) -> list[Edge]:
        pending: list[tuple[RawNode, str, TemplateRef]] = []  # the node, its name, the call
        name_check = _NameCheck(self.defs)
        for node in self.raw.nodes:
            if node.name not in self.impls:
                continue
            for ref in self._node_refs(node, self.impls[node.name]):
                if ref.function in (NAME, VARIABLE):
                    problem = name_check.check(node, ref)
                    if problem is not None:
                        self.errors.add(problem)
                elif ref.target not in self.raw.by_name:
                    self.errors.add(TemplateReferenceError(
                        f"node {node.name!r} (type {node.type!r}) calls "
                        f"{ref.function}({ref.target!r}) in a template{_at_line(ref)}, but "
                        f"there is no node {ref.target!r}"
                        f"{suggestion(ref.target, self.raw.by_name)}",
                        target=ref.target, function=ref.function,
                        location=ref.location, node=node.name))
                elif ref.target == node.name:
                    self.errors.add(TemplateReferenceError(
                        f"node {node.name!r} calls {ref.function}({ref.target!r}) on itself in "
                        f"a template{_at_line(ref)}; a node cannot wait for its own address",
                        target=ref.target, function=ref.function,
                        location=ref.location, node=node.name))
                else:
                    pending.append((node, node.name, ref))
        if not pending or not check_ancestry:
            return []
        index = {name: i for i, name in enumerate(names)}
        order = [n for level in topological_levels(names, deps) for n in level]
        ancestors = ancestor_sets(order, deps, index)
        inferred: dict[tuple[str, str], Edge] = {}
        reported: set[tuple[str, str, str]] = set()
        for node, name, ref in pending:
            if ancestors[name] >> index[ref.target] & 1:
                continue
            key = (name, ref.target)
            if self.mode is TemplateDependencies.ERROR:
                place = (name, ref.target, str(ref.location))
                if place in reported:  # the same call twice in one string
                    continue
                reported.add(place)
                self.errors.add(TemplateReferenceError(
                    f"node {name!r} (type {node.type!r}) calls "
                    f"{ref.function}({ref.target!r}) in a template{_at_line(ref)}, but "
                    f"{ref.target!r} is not "
                    f"a dependency of {name!r}; add the dependency "
                    f"[{name}, {ref.target}]", target=ref.target, function=ref.function,
                    location=ref.location, node=name))
            elif key not in inferred:
                origin = f"{ref.function}({ref.target!r}) at {ref.describe()}"
                inferred[key] = Edge(dependent=name, dependency=ref.target,
                                     inferred_from=origin)
        for edge in inferred.values():
            message = (f"node {edge.dependent!r} does not depend on {edge.dependency!r} but "
                       f"calls {edge.inferred_from}; the dependency was added (write "
                       f"[{edge.dependent}, {edge.dependency}] in 'dependencies' to make it "
                       f"explicit)")
            log.warning("%s", message)
            self.errors.warn(message)
        return list(inferred.values())

    # -- model -----------------------------------------------------------------------

    def _build(self, inferred: list[Edge]) -> StaticDescription:
        raw = self.raw
        # no problem was found (raise_if_any passed): every entry was valid, its type resolved
        assert raw.infra_name is not None
        frozen_infra_vars = freeze(raw.variables)
        nodes = []
        for node in raw.nodes:
            assert node.name is not None and node.type is not None and node.scaling is not None
            resolved = self.impls[node.name]
            variables = frozen_infra_vars if node.variables is raw.variables \
                else freeze(node.variables)
            nodes.append(Node(
                name=node.name, type=node.type, scaling=node.scaling,
                filter=freeze(node.filter), variables=variables,
                implementations=tuple(resolved.definition.implementations[i]
                                      for i in resolved.kept),
                create_timeout=node.create_timeout,
                attributes=freeze(node.attributes) if node.attributes is not None else None,
                update=node.update))
        edges = [Edge(dependent=e.dependent, dependency=e.dependency,
                      mappings=tuple(e.mappings),
                      extra=freeze(e.extra) if e.extra else EMPTY) for e in raw.edges.values()]
        self._check_synch({n.name: n for n in nodes})
        return StaticDescription(infra_name=raw.infra_name, user_id=raw.user_id,
                                 variables=frozen_infra_vars, nodes=tuple(nodes),
                                 edges=tuple(edges + inferred),
                                 warnings=tuple(self.errors.warnings))

    def _check_synch(self, nodes: dict[str, Node]) -> None:
        """Warn of a ``synch`` mapping whose attribute OCCO can never find: the
        dependency would stay unready until its health check timeout fails it."""
        for edge in self.raw.edges.values():
            node = nodes.get(edge.dependency)
            if node is None:
                continue
            for mapping in edge.mappings:
                if mapping.synch and not _knows_attribute(node, mapping.source):
                    where = edge.location
                    self.errors.warn(
                        f"{where or 'dependencies'}: synch attribute "
                        f"{mapping.source!r} of node {node.name!r} is neither an attribute "
                        f"of the node (its attributes or its contextualisation's) nor one "
                        f"of {', '.join(sorted(RUNTIME_ATTRIBUTES))}: OCCO has no Chef "
                        "server to publish it, so the node will not become ready")


#: What an instance always has once started, for ``synch`` attributes.
RUNTIME_ATTRIBUTES = frozenset({"ip", "address", "node_id", "instance_id", "infra_id",
                                "infra_name", "name", "type"})


def _knows_attribute(node: Node, name: str) -> bool:
    head = name.split(".", 1)[0]
    if name in RUNTIME_ATTRIBUTES or head in RUNTIME_ATTRIBUTES:
        return True
    pools: list[Mapping[str, Any]] = [node.attributes or {}]
    for impl in node.implementations:
        context = impl.contextualisation
        if isinstance(context, Mapping) and isinstance(context.get("attributes"), Mapping):
            pools.append(context["attributes"])
    return any(name in pool or _has_path(pool, name.split(".")) for pool in pools)


def _has_path(data: Any, parts: list[str]) -> bool:
    for part in parts:
        if not isinstance(data, Mapping) or part not in data:
            return False
        data = data[part]
    return data is not None


_IMPL_PATH = re.compile(r"^node_def:.*?\[(\d+)\]\.contextualisation")

#: Occopus template names OCCO refuses, and what to use instead.
_REFUSED_NAMES = {
    "ibget": "it queried Occopus's info broker for anything; use getip(), getprivip(), "
             "getipall() or find_node_id() of a dependency, or variables",
    "cmd": "it ran a shell command on the orchestrator; compute the value in the node's "
           "own start-up script, or pass it in variables",
}


class _NameCheck:
    """Every name a template takes from its context must be a template name, and every
    constant path into ``variables`` must exist in the node's variables: templates
    render strictly, so either would fail the build of that node."""

    def __init__(self, defs: _Definitions) -> None:
        self.defs = defs
        self.allowed = TEMPLATE_NAMES | set(SandboxedEnvironment().globals)
        self.reported: set[tuple] = set()

    def _config_names(self, node: RawNode, path: str) -> frozenset[str]:
        """The names the config manager of the implementation at ``path`` adds to its
        contextualisation (``puppet`` for puppet_solo)."""
        match = _IMPL_PATH.match(path)
        typedef = self.defs.types.get(node.type) if match and node.type is not None else None
        definition = typedef.definition if typedef is not None else None
        if match is None or definition is None \
                or int(match.group(1)) >= len(definition.implementations):
            return frozenset()
        impl = definition.implementations[int(match.group(1))]
        return CONFIG_MANAGER_NAMES.get(impl.config_management.get("type", "none"),
                                        frozenset())

    def check(self, node: RawNode, ref: TemplateRef) -> InputError | None:
        if ref.function == NAME:
            return self._name(node, ref)
        return self._variable(node, ref)

    def _name(self, node: RawNode, ref: TemplateRef) -> InputError | None:
        path = ref.location.path if ref.location and ref.location.path else ""
        allowed = self.allowed
        if ".health_check" in path:
            allowed = allowed | HEALTH_CHECK_NAMES
        elif ".contextualisation" in path:
            allowed = allowed | self._config_names(node, path)
        if ref.target in allowed or (ref.target, str(ref.location)) in self.reported:
            return None
        self.reported.add((ref.target, str(ref.location)))
        if ref.target in _REFUSED_NAMES:
            return TemplateReferenceError(
                f"a template uses Occopus's {ref.target!r}{_at_line(ref)}, which OCCO refuses: "
                f"{_REFUSED_NAMES[ref.target]}", target=ref.target, function=NAME,
                location=ref.location, node=node.name)
        if ref.target in HEALTH_CHECK_NAMES:
            why = f"{ref.target!r} is defined only in health_check sections"
        else:
            why = (f"there is no template name {ref.target!r}"
                   f"{suggestion(ref.target, TEMPLATE_NAMES)}")
        return TemplateReferenceError(
            f"a template uses {ref.target!r}{_at_line(ref)}, but {why} (an undefined name "
            f"fails the build; test it with 'is defined' or give it a '| default(...)')",
            target=ref.target, function=NAME, location=ref.location, node=node.name)

    def _variable(self, node: RawNode, ref: TemplateRef) -> InputError | None:
        value: Any = node.variables
        walked: list[str] = []
        for part in ref.target.split("."):
            if not isinstance(value, Mapping):
                return None  # a method or item of a value: a render-time matter
            if part not in value:
                key = (node.name, ".".join(walked + [part]), str(ref.location))
                if key in self.reported:
                    return None
                self.reported.add(key)
                where = "variables" + "".join(f".{w}" for w in walked)
                return TemplateReferenceError(
                    f"node {node.name!r} (type {node.type!r}): a template uses "
                    f"variables.{ref.target}{_at_line(ref)}, but {where} has no "
                    f"{part!r}{suggestion(part, [str(k) for k in value])} (an undefined "
                    f"variable fails the build; define it in the node's or the "
                    f"infrastructure's variables, or give it a '| default(...)')",
                    target=ref.target, function=VARIABLE, location=ref.location,
                    node=node.name)
            value = value[part]
            walked.append(part)
        return None


def _at_line(ref: TemplateRef) -> str:
    return f" (template line {ref.line})" if ref.line > 1 else ""
