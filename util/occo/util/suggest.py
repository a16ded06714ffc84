""""Did you mean": the one place that picks the likely intended word for a message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["closest", "suggestion"]


def closest(word: Any, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, if one is close enough to be a likely typo (one
    that differs only in case is the closest there is: names are compared exactly)."""
    options = list(choices)
    folded = [c for c in options if c.casefold() == str(word).casefold()]
    if folded:
        return folded[0]
    found = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    return found[0] if found else None


def suggestion(word: Any, choices: Iterable[str], *, limit: int = 12) -> str:
    """``; did you mean 'x'?`` or ``; known: a, b, c``, for error messages."""
    options = sorted(choices)
    hint = closest(word, options)
    if hint:
        return f"; did you mean {hint!r}?"
    if not options:
        return "; none are known"
    shown = ", ".join(options[:limit]) + (", ..." if len(options) > limit else "")
    return f"; known: {shown}"
