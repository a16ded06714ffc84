"""Plugin lookup by entry point group (``occo.cloudhandler``, ``occo.healthcheck``, ...).

Backends are never imported by name from a hard-coded table: each distribution declares
its plugins in its ``setup.py`` entry points, and this module finds them.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .errors import Location, PluginNotFoundError

__all__ = ["CLOUD_HANDLER_GROUP", "CONFIG_MANAGER_GROUP", "HEALTH_CHECK_GROUP", "PLUGIN_GROUPS",
           "RESOURCE_SCHEMA_GROUP", "find_entry_point", "load_plugin", "plugin_names"]

# The entry point groups of OCCO's plugins, named here once. A distribution declares its
# plugins under these names in its setup.py (which cannot import this module at build
# time); the packaging test checks that every group a setup.py declares is one of them.

#: cloud handler backends: ``type`` of a resource section -> a CloudHandler class
CLOUD_HANDLER_GROUP = "occo.cloudhandler"
#: the schema of each resource type's keys (the compiler validates with them)
RESOURCE_SCHEMA_GROUP = "occo.resource_schema"
#: configuration managers: ``type`` of a config_management section
CONFIG_MANAGER_GROUP = "occo.configmanager"
#: health checks: a key of a health_check section
HEALTH_CHECK_GROUP = "occo.healthcheck"
#: every group above
PLUGIN_GROUPS = (CLOUD_HANDLER_GROUP, RESOURCE_SCHEMA_GROUP, CONFIG_MANAGER_GROUP,
                 HEALTH_CHECK_GROUP)


def _group(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def plugin_names(group: str) -> list[str]:
    """The names registered in ``group``, sorted."""
    return sorted(_group(group))


def find_entry_point(group: str, name: str, *, location: Location | None = None) -> EntryPoint:
    """The entry point ``name`` of ``group``, or :class:`PluginNotFoundError`."""
    found = _group(group)
    if name not in found:
        raise PluginNotFoundError(group, name, found, location=location)
    return found[name]


def load_plugin(group: str, name: str, *, location: Location | None = None) -> Any:
    """Import and return the object registered as ``name`` in ``group``."""
    return find_entry_point(group, name, location=location).load()
