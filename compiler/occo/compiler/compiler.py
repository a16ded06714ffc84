"""compile_infrastructure(): from a description and node definitions to a StaticDescription.

One pass collects every problem (up to ``error_limit``) and raises them together as
:class:`~occo.compiler.errors.CompileErrors`; nothing but the given files (and the
include files they name) is read, and nothing is written.
"""

from __future__ import annotations

import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from occo.util import InputError, Schema, YamlLimits, load_yaml_file
from occo.util.errors import Location

from ._collect import DEFAULT_ERROR_LIMIT, ErrorCollector
from ._description import RawDescription, RawNode, parse_description
from ._graph import ancestor_sets, find_cycles, topological_levels
from ._nodedefs import DefinitionParser, TypeDef
from ._sections import NODE_DEF_PREFIX, suggestion
from ._templates import TemplateRef, TemplateScanner
from .choose import matches_filter
from .errors import (CompileErrors, DependencyCycleError, NoMatchingImplementationError,
                     TemplateReferenceError, UnknownNodeTypeError)
from .frozen import freeze
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
        error_limit: int = DEFAULT_ERROR_LIMIT) -> StaticDescription:
    """Load, check and compile an infrastructure description.

    ``description`` is a path (a ``str`` is always a path) or an already-loaded mapping
    (API input: load text with ``occo.util.load_yaml_text`` first). ``node_definitions``
    are paths, a mapping ``{type: [implementation, ...]}`` or ``{type: NodeDefinition}``,
    or ``None`` to look next to the description (:data:`DEFINITION_FILES`).
    ``resource_schemas``, ``config_managers`` and ``health_checks`` default to what the
    entry point groups declare (see :mod:`occo.compiler.registry`).

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
        source = str(path.resolve())
        base = path.resolve().parent
        try:
            data = load_yaml_file(path, root=base, allow_outside=allow_outside,
                                  limits=yaml_limits)
        except InputError as exc:
            raise CompileErrors([_located(exc, path)]) from exc
    raw = parse_description(data, errors, source)
    scanner = TemplateScanner()
    parser = DefinitionParser(registry, errors, scanner)
    defs = _gather_definitions(node_definitions, base, parser, errors, yaml_limits,
                               allow_outside)
    return _Compilation(raw, defs, scanner, errors, mode).run()


class _Compilation:
    """The steps after parsing: types, filters, graph, template references, model."""

    def __init__(self, raw: RawDescription, defs: _Definitions, scanner: TemplateScanner,
                 errors: ErrorCollector, mode: TemplateDependencies) -> None:
        self.raw = raw
        self.defs = defs
        self.scanner = scanner
        self.errors = errors
        self.mode = mode
        self.impls: dict[str, list[int]] = {}  # node -> indices of kept implementations

    def run(self) -> StaticDescription:
        raw = self.raw
        for node in raw.nodes:
            if node.name is not None and node.type is not None:
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
        typedef = self.defs.types.get(node.type)
        if typedef is None:
            if self.defs.complete:
                self.errors.add(self._unknown_type(node))
            return
        definition = typedef.definition
        if definition is None:
            return  # its implementations are reported already
        if not node.filter:
            self.impls[node.name] = list(range(len(definition.implementations)))
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
        self.impls[node.name] = kept

    def _unknown_type(self, node: RawNode) -> UnknownNodeTypeError:
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
            f"{where}{hint}", node_type=node.type, searched=searched,
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

    def _node_refs(self, node: RawNode) -> list[TemplateRef]:
        typedef = self.defs.types[node.type]
        refs = [ref for i in self.impls[node.name] for ref in typedef.refs[i]]
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
        pending: list[tuple[RawNode, TemplateRef]] = []
        for node in self.raw.nodes:
            if node.name not in self.impls:
                continue
            for ref in self._node_refs(node):
                if ref.target not in self.raw.by_name:
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
                    pending.append((node, ref))
        if not pending or not check_ancestry:
            return []
        index = {name: i for i, name in enumerate(names)}
        order = [n for level in topological_levels(names, deps) for n in level]
        ancestors = ancestor_sets(order, deps, index)
        inferred: dict[tuple[str, str], Edge] = {}
        reported: set[tuple[str, str, str]] = set()
        for node, ref in pending:
            if ancestors[node.name] >> index[ref.target] & 1:
                continue
            key = (node.name, ref.target)
            if self.mode is TemplateDependencies.ERROR:
                place = (node.name, ref.target, str(ref.location))
                if place in reported:  # the same call twice in one string
                    continue
                reported.add(place)
                self.errors.add(TemplateReferenceError(
                    f"node {node.name!r} (type {node.type!r}) calls "
                    f"{ref.function}({ref.target!r}) in a template{_at_line(ref)}, but "
                    f"{ref.target!r} is not "
                    f"a dependency of {node.name!r}; add the dependency "
                    f"[{node.name}, {ref.target}]", target=ref.target, function=ref.function,
                    location=ref.location, node=node.name))
            elif key not in inferred:
                origin = f"{ref.function}({ref.target!r}) at {ref.describe()}"
                inferred[key] = Edge(dependent=node.name, dependency=ref.target,
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
        frozen_infra_vars = freeze(raw.variables)
        nodes = []
        for node in raw.nodes:
            definition = self.defs.types[node.type].definition
            kept = self.impls[node.name]
            variables = frozen_infra_vars if node.variables is raw.variables \
                else freeze(node.variables)
            nodes.append(Node(
                name=node.name, type=node.type, scaling=node.scaling,
                filter=freeze(node.filter), variables=variables,
                implementations=tuple(definition.implementations[i] for i in kept),
                create_timeout=node.create_timeout,
                attributes=freeze(node.attributes) if node.attributes is not None else None))
        edges = [Edge(dependent=e.dependent, dependency=e.dependency,
                      mappings=tuple(e.mappings)) for e in raw.edges.values()]
        return StaticDescription(infra_name=raw.infra_name, user_id=raw.user_id,
                                 variables=frozen_infra_vars, nodes=tuple(nodes),
                                 edges=tuple(edges + inferred),
                                 warnings=tuple(self.errors.warnings))


def _at_line(ref: TemplateRef) -> str:
    return f" (template line {ref.line})" if ref.line > 1 else ""
