"""Warnings and notes of the ``occo`` command, in the style of its log lines: ``occo:
warning: ...`` on standard error, so standard output holds only the report. With
``--json`` they are part of the JSON report, and log lines on standard error are JSON
objects (``occo.util.logs``)."""

from __future__ import annotations

from typing import TextIO

__all__ = ["notice"]


def notice(err: TextIO, level: str, message: str) -> None:
    """Write one ``warning`` or ``note`` line to ``err``."""
    err.write(f"occo: {level}: {message}\n")
