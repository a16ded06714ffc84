"""Read-only containers for the user data inside the compiled model.

Variables, resource sections and the like are free-form mappings, so the model keeps
them as data rather than as classes. :func:`freeze` turns them into :class:`FrozenDict`
and tuples, so a compiled description cannot be changed by the code that reads it (the
enactor, the processor, templates). ``FrozenDict`` is a ``dict`` subclass, so
``json.dumps`` and ``isinstance(x, dict)`` work as usual; :func:`thaw` gives plain,
mutable copies for the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FrozenDict", "freeze", "thaw", "EMPTY"]


def _readonly(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError("a compiled description is read-only; use thaw() for a mutable copy")


class FrozenDict(dict):
    """A ``dict`` that refuses every change after construction."""

    __slots__ = ()

    __setitem__ = _readonly
    __delitem__ = _readonly
    __ior__ = _readonly
    clear = _readonly
    pop = _readonly
    popitem = _readonly
    setdefault = _readonly
    update = _readonly

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict) -> FrozenDict:
        return self

    def __reduce__(self) -> tuple:
        return (FrozenDict, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(((repr(k), repr(v)) for k, v in self.items()))))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


EMPTY = FrozenDict()
_SCALARS = (str, int, float, type(None))


def freeze(value: Any) -> Any:
    """A deep, read-only copy: mappings become :class:`FrozenDict`, lists tuples."""
    if isinstance(value, _SCALARS):  # most values: no ABC check (typing's is slow)
        return value
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, (dict, Mapping)):
        return FrozenDict((k, freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A deep, plain copy (``dict`` and ``list``), JSON-able if the input was."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value
