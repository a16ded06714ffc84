"""Collecting every problem of one compile, up to a limit, to report them together."""

from __future__ import annotations

from collections.abc import Iterable

from occo.util import InputError

from .errors import CompileErrors

__all__ = ["ErrorCollector", "DEFAULT_ERROR_LIMIT"]

DEFAULT_ERROR_LIMIT = 50


class ErrorCollector:
    """Keeps the first ``limit`` errors and counts the rest.

    Checking goes on past the limit (so the count is right), but the messages beyond it
    are dropped: a file with a million bad lines must not produce a million-line report.
    """

    __slots__ = ("limit", "errors", "truncated", "warnings")

    def __init__(self, limit: int = DEFAULT_ERROR_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the error limit must be at least 1")
        self.limit = limit
        self.errors: list[InputError] = []
        self.truncated = 0
        self.warnings: list[str] = []

    def add(self, error: InputError) -> None:
        if len(self.errors) < self.limit:
            self.errors.append(error)
        else:
            self.truncated += 1

    def extend(self, errors: Iterable[InputError]) -> None:
        for error in errors:
            self.add(error)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __len__(self) -> int:
        return len(self.errors) + self.truncated

    def raise_if_any(self) -> None:
        """Raise :class:`CompileErrors` holding everything collected, if anything was."""
        if self.errors:
            raise CompileErrors(self.errors, truncated=self.truncated)
