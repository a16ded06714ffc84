"""Plugin lookup by entry point group (``occo.cloudhandler``, ``occo.healthcheck``, ...).

Backends are never imported by name from a hard-coded table: each distribution declares
its plugins in its ``setup.py`` entry points, and this module finds them.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .errors import Location, PluginNotFoundError

__all__ = ["plugin_names", "find_entry_point", "load_plugin"]


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
