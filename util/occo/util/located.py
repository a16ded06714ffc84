"""Containers that remember where each of their values was written.

The YAML loader builds :class:`LocatedDict` and :class:`LocatedList` instead of plain
``dict`` and ``list``, so that a validator can say ``infra.yaml:12:5: nodes[1].scaling.min``
about any value without a second parse. They are real ``dict``/``list`` subclasses, so
code that does not care about locations (and ``json.dumps``) treats them as usual.
"""

from __future__ import annotations

from typing import Any

from .errors import Location

__all__ = ["LocatedDict", "LocatedList", "location_of", "join_path"]


class LocatedDict(dict):
    """A mapping that also records the location of itself, its keys and its values."""

    __slots__ = ("location", "key_locations", "value_locations")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.location: Location | None = None
        self.key_locations: dict[Any, Location] = {}
        self.value_locations: dict[Any, Location] = {}


class LocatedList(list):
    """A sequence that also records the location of itself and of each item."""

    __slots__ = ("location", "item_locations")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.location: Location | None = None
        self.item_locations: list[Location] = []


def join_path(parent: str, key: Any) -> str:
    """The YAML path of ``key`` under ``parent``: ``nodes[2].scaling``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def location_of(container: Any, key: Any = None, *, path: str | None = None,
                of_key: bool = False) -> Location | None:
    """Where ``container[key]`` (or the key itself, or the container) was written.

    Returns ``None`` for containers that did not come from a file (API input), in which
    case only the path can be reported.
    """
    loc: Location | None = None
    if key is None:
        loc = getattr(container, "location", None)
    elif isinstance(container, LocatedDict):
        table = container.key_locations if of_key else container.value_locations
        loc = table.get(key) or container.location
    elif isinstance(container, LocatedList) and isinstance(key, int):
        if 0 <= key < len(container.item_locations):
            loc = container.item_locations[key]
        else:
            loc = container.location
    if path is None:
        return loc
    return loc.with_path(path) if loc else Location(path=path)
