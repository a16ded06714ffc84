"""The budget of one render: its limits, its clock and what it has built so far.

The limits live in a thread-local budget, so renders in different threads do not share
them. The sandbox (``_sandbox``) calls the checks here before and after every operation
it sees; each raises :class:`LimitExceeded`, which the renderer turns into a located
``TemplateLimitError``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._estimate import text_size

__all__ = ["RenderLimits", "LimitExceeded", "budget", "check_value", "count_output"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderLimits:
    """Bounds on one render (one section of one instance).

    ``max_seconds``: wall time of the render; ``max_output``: characters of the rendered
    section, of any string built while rendering, and of the text any value would become
    when shown; ``max_items``: length of any list, mapping or range built; ``max_int_bits``:
    size of any integer computed (also never more digits than Python turns into text,
    ``sys.get_int_max_str_digits()``); ``max_built``: characters and items of all the
    values one render builds together, container text measured as the text it would
    become (its memory). A real contextualisation is a few kilobytes and meets none of
    them; an operation whose result would pass a size limit is refused before it runs,
    so a render within the sizes also ends well within ``max_seconds``.
    """

    max_seconds: float = 2.0
    max_output: int = 1_000_000
    max_items: int = 100_000
    max_int_bits: int = 4_096
    max_built: int = 20_000_000

    def __post_init__(self) -> None:
        for name in ("max_seconds", "max_output", "max_items", "max_int_bits", "max_built"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RenderLimits.{name} must be positive")


class LimitExceeded(Exception):
    """A render went over one of its :class:`RenderLimits`."""

class _Budget:
    __slots__ = ("deadline", "limits", "output", "built", "sizes")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.output = 0
        self.built = 0  # characters and items of all values built (memory, not output)
        self.sizes: dict[int, tuple[Any, int]] = {}  # container id -> (it, its text size)


_state = threading.local()


class budget:
    """Context manager: the limits of the render(s) run inside it, in this thread."""

    __slots__ = ("_budget", "_previous")

    def __init__(self, limits: RenderLimits) -> None:
        self._budget = _Budget(limits)
        self._previous: _Budget | None = None

    def __enter__(self) -> _Budget:
        self._previous = getattr(_state, "budget", None)
        _state.budget = self._budget
        return self._budget

    def __exit__(self, *exc: object) -> None:
        _state.budget = self._previous


_DEFAULT = RenderLimits()


def _current() -> _Budget:
    current = getattr(_state, "budget", None)
    if current is None:  # used outside a render: the default sizes, no running clock
        return _Budget(_DEFAULT)
    return current


def _tick() -> _Budget:
    current = _current()
    if time.monotonic() > current.deadline:
        raise LimitExceeded(f"the render took longer than {current.limits.max_seconds:g} s "
                            "(a loop that does not end?)")
    return current


def check_value(value: Any, *, built: bool = False) -> Any:
    """``value`` if it is within the current limits, else :class:`LimitExceeded`.

    ``built``: the value was just made by the template (a call, filter or operator), so
    its size counts towards the render's memory (``max_built``).
    """
    current = _tick()
    limits = current.limits
    if isinstance(value, (str, bytes)):
        if len(value) > limits.max_output:
            raise LimitExceeded(f"a value of {len(value)} characters was built; the limit "
                                f"is {limits.max_output}")
        if built:
            _account(current, len(value))
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        if len(value) > limits.max_items:
            raise LimitExceeded(f"a collection of {len(value)} items was built; the limit "
                                f"is {limits.max_items}")
        if built:
            size = text_size(value, current.sizes)
            if size > limits.max_built:
                raise LimitExceeded(f"a collection whose text is at least {size} characters "
                                    f"was built; the limit is {limits.max_built}")
            kept = 64 if id(value) in current.sizes else 0  # the cache holds it alive
            _account(current, max(1, len(value)) + kept)
    elif isinstance(value, int) and not isinstance(value, bool):
        _check_int(value.bit_length(), limits)
    return value


def _int_digit_limit() -> int:
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    return limit or 1 << 62


def _check_int(bits: int, limits: RenderLimits) -> None:
    """Refuse an integer of ``bits`` bits: over ``max_int_bits``, or with more decimal
    digits than Python converts to text (its ValueError would name an interpreter
    setting, not the template)."""
    digits = int(bits * 0.30103) + 1
    if bits > limits.max_int_bits:
        raise LimitExceeded(f"an integer of {bits} bits (about {digits} digits); the limit "
                            f"is {limits.max_int_bits} bits")
    if digits > _int_digit_limit():
        raise LimitExceeded(f"an integer of about {digits} digits; integers of more than "
                            f"{_int_digit_limit()} digits cannot be shown as text")


def _refuse_text(size: int, what: str) -> None:
    """Refuse turning something into ``size`` characters of text, over ``max_output``."""
    limit = _current().limits.max_output
    if size > limit:
        raise LimitExceeded(f"{what} would build a text of at least {size} characters; "
                            f"the limit is {limit}")


def _refuse_as_text(values: Iterable[Any], what: str) -> None:
    """Refuse ``values`` whose text, together, would exceed ``max_output``."""
    cache = _current().sizes
    _refuse_text(sum(text_size(value, cache) for value in values), what)


def _refuse_shown(values: Iterable[Any], what: str) -> None:
    """Refuse any container among ``values`` whose text alone would exceed ``max_output``
    (a filter that shows its arguments turns each into text)."""
    cache = _current().sizes
    for value in values:
        if not isinstance(value, (str, int, float, type(None))):
            _refuse_text(text_size(value, cache), what)


def _refuse_work(cost: int, what: str) -> None:
    """Refuse an operation that would copy ``cost`` characters (about 10 per ``max_built``
    run in well under a second)."""
    limit = 10 * _current().limits.max_built
    if cost > limit:
        raise LimitExceeded(f"{what} would copy about {cost} characters; the limit is "
                            f"{limit} (it would not end within the deadline)")


def _account(current: _Budget, size: int) -> None:
    current.built += size
    if current.built > current.limits.max_built:
        raise LimitExceeded(f"the render built more than {current.limits.max_built} "
                            "characters and items in all; the limit is there to bound memory")


def count_output(text: str) -> None:
    """Account ``text`` as output of the current render."""
    current = _tick()
    current.output += len(text)
    if current.output > current.limits.max_output:
        raise LimitExceeded(f"the output exceeds the limit of {current.limits.max_output} "
                            "characters")


def _refuse_size(size: int, what: str) -> None:
    limits = _current().limits
    if size > limits.max_output:
        raise LimitExceeded(f"{what} would build a value of about {size} characters; the "
                            f"limit is {limits.max_output}")


def _refuse_items(count: int, what: str) -> None:
    limit = _current().limits.max_items
    if count > limit:
        raise LimitExceeded(f"{what} would build {count} items; the limit is {limit}")
