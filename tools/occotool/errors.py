"""The tool's one error type; the CLI prints its message and exits with its code."""

from __future__ import annotations


class ToolError(Exception):
    """A failure the user can act on. ``exit_code`` 2 means bad input or usage."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
