"""Logging set-up for OCCO processes, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from .secrets import redact, scrub

__all__ = ["RedactionFilter", "JsonFormatter", "CommandFormatter", "setup_logging"]


class RedactionFilter(logging.Filter):
    """Rewrites each record so no registered secret or secret-named value survives.

    The message is formatted here (with its arguments) and scrubbed, so a secret passed
    as an argument (``log.info("key %s", key)``) is hidden as well as one in the text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what we have
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        extra = getattr(record, "occo", None)
        if extra is not None:
            record.occo = redact(extra)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and OCCO's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "occo", None)
        if extra:
            out["occo"] = extra
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, default=str)


class CommandFormatter(logging.Formatter):
    """A command's style, the one its own ``occo: warning:`` lines have:
    ``occo: warning: message``; with ``verbose`` the time and the logger too
    (``12:00:01 occo: info: occo.enactor: message``)."""

    def __init__(self, prog: str = "occo", verbose: bool = False) -> None:
        super().__init__()
        self.prog, self.verbose = prog, verbose

    def format(self, record: logging.LogRecord) -> str:
        head = f"{self.prog}: {record.levelname.lower()}: "
        if self.verbose:
            head = f"{self.formatTime(record, '%H:%M:%S')} {head}{record.name}: "
        text = head + record.getMessage()
        if record.exc_text:
            text += "\n" + record.exc_text
        return text


def setup_logging(level: str | int = "WARNING", *, json_lines: bool = False,
                  stream: Any = None, command: str | None = None) -> logging.Handler:
    """Send the ``occo`` loggers to ``stream`` (stderr) through the redaction filter.

    ``command`` (a program name) writes the lines in that command's style
    (:class:`CommandFormatter`) instead of the service log style; ``json_lines`` writes
    one JSON object per line. Returns the handler so callers can remove it again.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactionFilter())
    numeric = level if isinstance(level, int) else logging.getLevelName(level.upper())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    elif command:
        handler.setFormatter(CommandFormatter(command, verbose=numeric < logging.WARNING))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("occo")
    logger.addHandler(handler)
    logger.setLevel(level if isinstance(level, int) else level.upper())
    return handler
