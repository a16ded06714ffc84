"""Size estimates the sandbox makes *before* an operation runs.

Each function returns a lower bound of the number of characters an operation would
produce (or copy), computed from the sizes of its operands, so that the sandbox can refuse
an operation that would exceed a budget without running it, and never refuses one that
would not. The estimates are cheap: a large container's text size is remembered (by
identity, in a per-render cache that keeps the container alive, so the identity stays
valid; a small one is measured again when needed), so
that ``[a, a]`` built from an ``a`` already measured costs two look-ups, however deep
``a`` is.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from jinja2.utils import Namespace

__all__ = ["text_size", "percent_size", "brace_size", "nested_units", "long_word_cost"]

_FORMATTER = string.Formatter()
_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")
_CONTAINERS = (list, tuple, dict, set, frozenset)
_REMEMBERED = 1024  # containers with at least this much text are remembered


def text_size(value: Any, cache: dict[int, tuple[Any, int]]) -> int:
    """A lower bound of ``len(str(value))`` (``str`` of a container shows its items'
    ``repr``; JSON and ``pprint`` are at least as long)."""
    if isinstance(value, str):
        return len(value)
    return _repr_size(value, cache, {}, 0)


def _number_size(value: int | float | bool | None) -> int:
    if value is None or isinstance(value, bool):
        return 4  # None, True (False is longer)
    if isinstance(value, float):
        return 3  # 0.0
    bits = abs(value).bit_length()  # at least 2 ** (bits - 1): that many digits or more
    return (value < 0) + 1 + int(max(0, bits - 1) * 0.30102999)


def _repr_size(value: Any, cache: dict[int, tuple[Any, int]],
               local: dict[int, int], depth: int) -> int:
    """``cache``: the render's, for large containers; ``local``: this measurement's, for
    all (``[small] * 9999`` measures ``small`` once); the values it holds are alive."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, bytes):
        return len(value) + 3
    if isinstance(value, (int, float, type(None))):
        return _number_size(value)
    if isinstance(value, Namespace):
        attrs = value._Namespace__attrs  # type: ignore[attr-defined]
        return 12 + _repr_size(attrs, cache, local, depth)  # <Namespace {...}>
    if not isinstance(value, _CONTAINERS):
        return 1
    found = cache.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    known = local.get(id(value))
    if known is not None:
        return known
    if depth > 200:  # Python's repr gives up near here too (RecursionError, reported)
        return 1
    local[id(value)] = 1  # a cycle (a namespace that holds itself) counts once
    separators = 2 * max(0, len(value) - 1)  # ", " between items
    if isinstance(value, dict):  # {k: v, ...}
        size = 2 + separators + sum(_repr_size(k, cache, local, depth + 1) + 2
                                    + _repr_size(v, cache, local, depth + 1)
                                    for k, v in value.items())
    else:  # [a, b], (a, b), {a, b}
        size = 2 + separators + sum(_repr_size(item, cache, local, depth + 1)
                                    for item in value)
    local[id(value)] = size
    if size >= _REMEMBERED:  # a small one is cheaper to measure again than to keep alive
        cache[id(value)] = (value, size)
    return size


def percent_size(fmt: str, args: Any, cache: dict[int, tuple[Any, int]]) -> int:
    """A lower bound of ``len(fmt % args)`` from the ``%s``/``%r``/``%a`` conversions."""
    size = len(_PERCENT.sub("", fmt))
    specs = list(_PERCENT.finditer(fmt))
    if isinstance(args, Mapping) and any(m.group(1) is not None for m in specs):
        for match in specs:
            if match.group(1) is not None and match.group(1) in args:
                size += _field_size(match, args[match.group(1)], cache)
        return size
    if any("*" in (m.group(2) or "", m.group(3) or "") for m in specs):
        return size
    values = list(args) if isinstance(args, tuple) else [args]
    for match, value in zip((m for m in specs if m.group(4) != "%"), values):
        size += _field_size(match, value, cache)
    return size


def _field_size(match: re.Match[str], value: Any, cache: dict[int, tuple[Any, int]]) -> int:
    if match.group(4) not in "sra":
        return 0
    size = text_size(value, cache)
    precision = match.group(3)
    return min(size, int(precision)) if precision and precision.isdigit() else size


def brace_size(fmt: str, args: tuple, kwargs: Mapping[str, Any],
               cache: dict[int, tuple[Any, int]]) -> int:
    """A lower bound of ``len(fmt.format(*args, **kwargs))``: its literal text and each
    plain ``{}``/``{0}``/``{name}`` field (one without a precision)."""
    try:
        fields = list(_FORMATTER.parse(fmt))
    except ValueError:
        return 0
    size, auto = 0, 0
    for literal, name, spec, _conversion in fields:
        size += len(literal)
        if name is None:
            continue
        if name == "":
            key: Any = auto
            auto += 1
        elif name.isdigit():
            key = int(name)
        else:
            key = name
        if spec and "." in spec:
            continue  # a precision may cut the value short
        if isinstance(key, int):
            if key < len(args):
                size += text_size(args[key], cache)
        elif key in kwargs:
            size += text_size(kwargs[key], cache)
    return size


def nested_units(value: Any, cap: int) -> int:
    """Items of ``value`` weighted by their depth (how many indents an indented JSON or
    pretty print puts before them), counted up to ``cap``."""
    total = 0
    stack = [(value, 0)]
    while stack and total <= cap:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, (list, tuple, set, frozenset)):
            total += (depth + 1) * len(item)
            stack.extend((child, depth + 1) for child in item)
    return total


def long_word_cost(words: list[str], width: int) -> int:
    """Characters textwrap copies to break the ``words`` longer than ``width``: each break
    copies the rest of the word, so a word of n characters costs n²/(2·width)."""
    width = max(1, width)
    return sum(len(word) * len(word) // (2 * width) for word in words if len(word) > width)
