"""Containers that remember where each of their values was written.

The YAML loader builds :class:`LocatedDict` and :class:`LocatedList` instead of plain
``dict`` and ``list``, so that a validator can say ``infra.yaml:12:5: nodes[1].scaling.min``
about any value without a second parse. They are real ``dict``/``list`` subclasses, so
code that does not care about locations (and ``json.dumps``) treats them as usual.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import Location

__all__ = ["LocatedDict", "LocatedList", "location_of", "join_path"]

# Positions are kept packed in ints (0-based line << 32 | column, as the parser's marks
# give them) and turned into Location objects only when asked for: a description of a
# million small values keeps a million positions, and a Location object each would
# cost several times the memory of the values themselves.
_SHIFT = 32
_MASK = (1 << _SHIFT) - 1
_NOWHERE = -1


def pack(line: int, column: int) -> int:
    """A 0-based line and column as one int (what the containers store)."""
    return line << _SHIFT | column


def _unpack(source: str | None, packed: int) -> Location | None:
    if packed < 0:
        return None
    return Location(file=source, line=(packed >> _SHIFT) + 1, column=(packed & _MASK) + 1)


class _KeyLocations(Mapping):
    """A read-only view: key -> Location of the key (or of its value)."""

    __slots__ = ("_owner", "_values")

    def __init__(self, owner: LocatedDict, values: bool) -> None:
        self._owner, self._values = owner, values

    def __getitem__(self, key: Any) -> Location:
        found = self._owner.where(key, of_key=not self._values)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[Any]:
        return iter(self._owner._places)

    def __len__(self) -> int:
        return len(self._owner._places)


class LocatedDict(dict):
    """A mapping that also records the location of itself, its keys and its values."""

    __slots__ = ("source", "_at", "_places")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source: str | None = None
        self._at = _NOWHERE
        self._places: dict[Any, int] = {}   # key -> packed key position << 64 | value's

    def place(self, source: str | None, line: int, column: int) -> None:
        """Record where the mapping starts (0-based, as the parser's marks)."""
        self.source, self._at = source, pack(line, column)

    def place_key(self, key: Any, key_at: int, value_at: int) -> None:
        """Record where ``key`` and its value are written (packed with :func:`pack`)."""
        self._places[key] = key_at << (2 * _SHIFT) | value_at

    def where(self, key: Any, *, of_key: bool = False) -> Location | None:
        """The location of ``key`` (``of_key``) or of its value, if recorded."""
        both = self._places.get(key)
        if both is None:
            return None
        return _unpack(self.source, both >> (2 * _SHIFT) if of_key
                       else both & ((1 << 2 * _SHIFT) - 1))

    def merge_under(self, sources: list[LocatedDict]) -> None:
        """YAML's merge key: the keys of ``sources`` (a later one winning over an earlier
        one) go first, under this mapping's own keys, which win over all of them."""
        own = [(k, v, self._places.get(k)) for k, v in self.items()]
        self.clear()
        self._places.clear()
        for source in sources:
            for k, v in source.items():
                self[k] = v
                if k in source._places:
                    self._places[k] = source._places[k]
        for k, v, places in own:
            self[k] = v
            if places is not None:
                self._places[k] = places

    @property
    def location(self) -> Location | None:
        return _unpack(self.source, self._at)

    @property
    def key_locations(self) -> Mapping[Any, Location]:
        return _KeyLocations(self, values=False)

    @property
    def value_locations(self) -> Mapping[Any, Location]:
        return _KeyLocations(self, values=True)


class LocatedList(list):
    """A sequence that also records the location of itself and of each item."""

    __slots__ = ("source", "_at", "_items")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.source: str | None = None
        self._at = _NOWHERE
        self._items = array("q")   # packed position of each item, in order

    def place(self, source: str | None, line: int, column: int) -> None:
        """Record where the sequence starts (0-based, as the parser's marks)."""
        self.source, self._at = source, pack(line, column)

    def place_item(self, at: int) -> None:
        """Record where the next item is written (packed with :func:`pack`)."""
        self._items.append(at)

    def where(self, index: int) -> Location | None:
        """The location of item ``index``, if recorded."""
        if 0 <= index < len(self._items):
            return _unpack(self.source, self._items[index])
        return None

    @property
    def location(self) -> Location | None:
        return _unpack(self.source, self._at)

    @property
    def item_locations(self) -> list[Location | None]:
        return [_unpack(self.source, at) for at in self._items]


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
        loc = container.where(key, of_key=of_key) or container.location
    elif isinstance(container, LocatedList) and isinstance(key, int):
        loc = container.where(key) or container.location
    if path is None:
        return loc
    return loc.with_path(path) if loc else Location(path=path)
