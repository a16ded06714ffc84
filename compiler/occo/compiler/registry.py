"""What the installed plugins tell the compiler: resource schemas and known section types.

The compiler never imports cloud handlers or the service composer. They declare what
they accept through entry points, and this module reads the declarations:

- ``occo.resource_schema``: name = resource ``type``, value = an ``occo.util.Schema``
  for the resource section (registered by cloud-handler);
- ``occo.configmanager``: the names are the accepted ``config_management.type`` s,
  besides the built-in ``none``;
- ``occo.healthcheck``: the names are extra ``health_check`` keys accepted besides
  the built-in ``ping``, ``ports``, ``urls``, ``mysqldbs``, ``timeout``.

Callers and tests may give any of them explicitly instead (:class:`Registry`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points

from occo.util import CONFIG_MANAGER_GROUP, HEALTH_CHECK_GROUP, RESOURCE_SCHEMA_GROUP, Schema

from .errors import PluginLoadError

__all__ = ["Registry", "RESOURCE_SCHEMA_GROUP", "CONFIG_MANAGER_GROUP", "HEALTH_CHECK_GROUP",
           "BUILTIN_CONFIG_MANAGERS", "load_resource_schemas"]

log = logging.getLogger(__name__)

BUILTIN_CONFIG_MANAGERS = frozenset({"none"})


def load_resource_schemas() -> dict[str, Schema]:
    """Every resource schema registered in ``occo.resource_schema``, by resource type."""
    schemas: dict[str, Schema] = {}
    for ep in entry_points(group=RESOURCE_SCHEMA_GROUP):
        try:
            value = ep.load()
        except Exception as exc:  # any import failure of a third-party plugin
            raise PluginLoadError(f"the resource schema {ep.name!r} ({ep.value}) could not "
                                  f"be loaded: {type(exc).__name__}: {exc}") from exc
        if not isinstance(value, Schema):
            raise PluginLoadError(f"the resource schema {ep.name!r} ({ep.value}) is a "
                                  f"{type(value).__name__}, not an occo.util.Schema")
        schemas[ep.name] = value
    log.debug("resource schemas from entry points: %s", sorted(schemas))
    return schemas


def _names(group: str) -> frozenset[str]:
    return frozenset(ep.name for ep in entry_points(group=group))


@dataclass(frozen=True, slots=True)
class Registry:
    """The resource schemas, config manager types and extra health check keys to accept."""

    resource_schemas: Mapping[str, Schema]
    config_managers: frozenset[str]
    health_checks: frozenset[str]

    @classmethod
    def resolve(cls, resource_schemas: Mapping[str, Schema] | None = None,
                config_managers: Iterable[str] | None = None,
                health_checks: Iterable[str] | None = None) -> Registry:
        """Use what is given; load what is not from the entry point groups.

        ``none`` is always an accepted config manager type.
        """
        schemas = dict(resource_schemas) if resource_schemas is not None \
            else load_resource_schemas()
        for name, schema in schemas.items():
            if not isinstance(schema, Schema):
                raise TypeError(f"resource schema {name!r} must be an occo.util.Schema, "
                                f"got {type(schema).__name__}")
        managers = frozenset(config_managers) if config_managers is not None \
            else _names(CONFIG_MANAGER_GROUP)
        checks = frozenset(health_checks) if health_checks is not None \
            else _names(HEALTH_CHECK_GROUP)
        return cls(resource_schemas=schemas, config_managers=managers | BUILTIN_CONFIG_MANAGERS,
                   health_checks=checks)
