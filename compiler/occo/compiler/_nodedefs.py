"""Reading node definitions (FORMATS.md section 2) into checked :class:`NodeDefinition` s.

Every implementation is checked completely: its sections' keys and types, the resource
section against the schema its cloud handler declares, the contextualisation, config
management and health check types, and the syntax of its templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from occo.util import InputError, Location, describe_value, location_of

from ._collect import ErrorCollector
from ._sections import (
    CONFIG_SCHEMA,
    CONTEXT_SCHEMAS,
    IMPLEMENTATION_SCHEMA,
    MYSQLDB_SCHEMA,
    NODE_DEF_PREFIX,
    check_section,
    health_check_schema,
    suggestion,
)
from ._templates import TemplateRef, TemplateScanner
from .frozen import freeze
from .model import DEFAULT_CONFIG_MANAGEMENT, Implementation, NodeDefinition, normalize_health_check
from .registry import Registry

__all__ = ["TypeDef", "DefinitionParser"]


@dataclass(slots=True)
class TypeDef:
    """A node type as read: its definition (``None`` if any implementation was bad) and,
    per implementation, the node references its templates make."""

    type: str
    path: str
    location: Location | None
    source: str | None
    definition: NodeDefinition | None = None
    refs: list[list[TemplateRef]] = field(default_factory=list)


class DefinitionParser:
    """Checks node definitions against one :class:`Registry`; problems go to ``errors``."""

    def __init__(self, registry: Registry, errors: ErrorCollector,
                 scanner: TemplateScanner) -> None:
        self.registry = registry
        self.errors = errors
        self.scanner = scanner
        self._health = health_check_schema(registry.health_checks)

    def parse_file_data(self, data: Any, source: str) -> dict[str, TypeDef]:
        """The types of one loaded node definitions file (``'node_def:<type>'`` keys)."""
        if not isinstance(data, dict):
            self.errors.add(InputError(
                f"a node definitions file must be a mapping of 'node_def:<type>' to a list of "
                f"implementations, got {describe_value(data)}",
                location=location_of(data) or Location(file=source)))
            return {}
        found: dict[str, TypeDef] = {}
        for key, impls in data.items():
            where = location_of(data, key, path=str(key), of_key=True)
            if not isinstance(key, str) or not key.startswith(NODE_DEF_PREFIX) \
                    or not key[len(NODE_DEF_PREFIX):].strip():
                hint = f"; did you mean '{NODE_DEF_PREFIX}{key}'?" \
                    if isinstance(key, str) and key and ":" not in key else ""
                self.errors.add(InputError(f"a node definition key must be "
                                           f"'{NODE_DEF_PREFIX}<type>', got {key!r}{hint}",
                                           location=where))
                continue
            node_type = key[len(NODE_DEF_PREFIX):]
            found[node_type] = self.parse_type(node_type, impls, data, key, where, source)
        return found

    def parse_mapping(self, data: Mapping[str, Any]) -> dict[str, TypeDef]:
        """Already-loaded definitions, ``{type: [implementation, ...]}`` or
        ``{type: NodeDefinition}`` (keys may carry the ``node_def:`` prefix)."""
        found: dict[str, TypeDef] = {}
        for key, value in data.items():
            node_type = key[len(NODE_DEF_PREFIX):] if isinstance(key, str) \
                and key.startswith(NODE_DEF_PREFIX) else key
            where = location_of(data, key, path=f"{NODE_DEF_PREFIX}{node_type}", of_key=True)
            if not isinstance(node_type, str) or not node_type:
                self.errors.add(InputError(f"a node type must be a non-empty string, got "
                                           f"{describe_value(key)}", location=where))
                continue
            if isinstance(value, NodeDefinition):
                typedef = TypeDef(node_type, f"{NODE_DEF_PREFIX}{node_type}", where,
                                  value.source, definition=value)
                typedef.refs = [self._scan(impl.to_dict(), f"{typedef.path}[{i}]", None, None)
                                for i, impl in enumerate(value.implementations)]
                found[node_type] = typedef
            else:
                found[node_type] = self.parse_type(node_type, value, data, key, where, None)
        return found

    def parse_type(self, node_type: str, impls: Any, parent: Any, key: Any,
                   where: Location | None, source: str | None) -> TypeDef:
        path = f"{NODE_DEF_PREFIX}{node_type}"
        typedef = TypeDef(node_type, path, where, source)
        if not isinstance(impls, list) or not impls:
            got = "an empty list" if impls == [] else describe_value(impls)
            self.errors.add(InputError(
                f"node type {node_type!r} must have a non-empty list of implementations, "
                f"got {got}", location=location_of(parent, key, path=path)))
            return typedef
        built: list[Implementation] = []
        for i, impl in enumerate(impls):
            implementation, refs = self.parse_implementation(impl, f"{path}[{i}]", impls, i)
            typedef.refs.append(refs)
            if implementation is not None:
                built.append(implementation)
        if len(built) == len(impls):
            typedef.definition = NodeDefinition(type=node_type, implementations=tuple(built),
                                                source=source)
        return typedef

    def _scan(self, value: Any, path: str, parent: Any, key: Any) -> list[TemplateRef]:
        problems: list[InputError] = []
        refs = self.scanner.scan(value, path, parent=parent, key=key, errors=problems)
        self.errors.extend(problems)
        return refs

    def parse_implementation(self, impl: Any, path: str, parent: Any, key: Any
                             ) -> tuple[Implementation | None, list[TemplateRef]]:
        before = len(self.errors)
        check_section(IMPLEMENTATION_SCHEMA, impl, path, self.errors, parent=parent, key=key)
        if not isinstance(impl, dict):
            return None, []
        resource = impl.get("resource")
        if isinstance(resource, dict):
            resource = self._check_resource(resource, impl, f"{path}.resource")
        context = impl.get("contextualisation")
        if isinstance(context, dict):
            self._check_typed(context, impl, "contextualisation", f"{path}.contextualisation",
                              set(CONTEXT_SCHEMAS))
        config = impl.get("config_management")
        if isinstance(config, dict):
            self._check_typed(config, impl, "config_management", f"{path}.config_management",
                              self.registry.config_managers)
        health = impl.get("health_check")
        if isinstance(health, dict):
            self._check_health(health, impl, f"{path}.health_check")
        refs = self._scan(impl, path, parent, key)
        if len(self.errors) != before:
            return None, refs
        return Implementation(
            resource=freeze(resource),
            contextualisation=freeze(context) if context is not None else None,
            config_management=freeze(config) if config is not None
            else DEFAULT_CONFIG_MANAGEMENT,
            health_check=freeze(normalize_health_check(health))), refs

    def _check_resource(self, resource: dict, impl: dict, path: str) -> dict:
        """Check ``resource`` against its type's schema; warnings go to the collector.

        Returns the section as kept: values converted the way Occopus reads them and
        optional keys given as null left out (the input itself if it has problems)."""
        schemas = self.registry.resource_schemas
        rtype = resource.get("type")
        if rtype is None:
            self.errors.add(InputError(
                f"missing required key 'type' (resource: the cloud handler, one of "
                f"{', '.join(sorted(schemas)) or 'none installed'})",
                location=location_of(impl, "resource", path=path)))
            return resource
        if not isinstance(rtype, str) or rtype not in schemas:
            known = ", ".join(sorted(schemas)) or "none (no cloud handler is installed)"
            hint = suggestion(rtype, schemas)
            hint = hint if hint.startswith("; did") else ""
            self.errors.add(InputError(
                f"unknown resource type {describe_value(rtype)}; known types: {known}{hint}",
                location=location_of(resource, "type", path=f"{path}.type")))
            return resource
        checked = schemas[rtype].validate(resource, path, parent=impl, key="resource",
                                          ignore=("type",))
        self.errors.extend(checked.errors)
        for warning in checked.warnings:
            self.errors.warn(warning)
        return checked.value if isinstance(checked.value, dict) else resource

    def _check_typed(self, section: dict, impl: dict, name: str, path: str,
                     known: set[str] | frozenset[str]) -> None:
        kind = section.get("type")
        if kind is None:
            self.errors.add(InputError(
                f"missing required key 'type' ({name}: one of {', '.join(sorted(known))})",
                location=location_of(impl, name, path=path)))
            return
        if not isinstance(kind, str) or kind not in known:
            self.errors.add(InputError(
                f"unknown {name} type {describe_value(kind)}; known types: "
                f"{', '.join(sorted(known))}{_did_you_mean(kind, known)}",
                location=location_of(section, "type", path=f"{path}.type")))
            return
        schema = CONTEXT_SCHEMAS[kind] if name == "contextualisation" else CONFIG_SCHEMA
        check_section(schema, section, path, self.errors, parent=impl, key=name)

    def _check_health(self, health: dict, impl: dict, path: str) -> None:
        if not check_section(self._health, health, path, self.errors, parent=impl,
                             key="health_check"):
            return
        dbs = health.get("mysqldbs")
        if isinstance(dbs, list):
            for i, db in enumerate(dbs):
                check_section(MYSQLDB_SCHEMA, db, f"{path}.mysqldbs[{i}]", self.errors,
                              parent=dbs, key=i)


def _did_you_mean(word: Any, known: set[str] | frozenset[str]) -> str:
    hint = suggestion(word, known)
    return hint if hint.startswith("; did") else ""
