"""Logging set-up for OCCO processes, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from .secrets import redact, scrub

__all__ = ["RedactionFilter", "JsonFormatter", "setup_logging"]


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


def setup_logging(level: str | int = "WARNING", *, json_lines: bool = False,
                  stream: Any = None) -> logging.Handler:
    """Send the ``occo`` loggers to ``stream`` (stderr) through the redaction filter.

    Returns the handler so callers (tests, the CLI) can remove it again.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("occo")
    logger.addHandler(handler)
    logger.setLevel(level if isinstance(level, int) else level.upper())
    return handler
