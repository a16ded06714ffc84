"""Keeping secrets out of logs, events, errors, the store and the REST API.

Two mechanisms work together:

- values registered with :func:`register_secret` (credentials as they are loaded) are
  replaced by ``***`` wherever :func:`scrub` sees them in text;
- :func:`redact` copies a JSON-like structure, replacing the values of keys that name a
  secret (``password``, ``secretkey``, ``token``, ``auth_data``, ...).
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

__all__ = ["REDACTED", "register_secret", "forget_secrets", "scrub", "redact", "is_secret_key"]

REDACTED = "***"
_MIN_SECRET_LEN = 4
_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|auth_data|credential|private_?key|client_key|"
    r"accesskey|access_key|api_?key|pass$)", re.IGNORECASE)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


@functools.lru_cache(maxsize=4096)
def _names_secret(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def is_secret_key(key: Any) -> bool:
    """Whether a mapping key names a secret value."""
    return isinstance(key, str) and _names_secret(key)


def register_secret(value: Any) -> None:
    """Remember a secret value (and every string inside it) so :func:`scrub` hides it."""
    global _pattern
    found: list[str] = []
    _collect_strings(value, found)
    with _lock:
        before = len(_secrets)
        _secrets.update(s for s in found if len(s) >= _MIN_SECRET_LEN)
        if len(_secrets) != before:
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def forget_secrets() -> None:
    """Drop every registered secret (tests, or a process that reloads credentials)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def _collect_strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, out)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _collect_strings(item, out)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-named keys' values and registered secrets hidden."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_key(k) and v not in (None, "") else redact(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return scrub(value)
    return value
