"""Redis URLs without importing redis: shown with the password hidden, and split from
OCCO's ``prefix`` query parameter. (Kept apart so that commands that never talk to Redis
do not pay for importing its client.)"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit

__all__ = ["redact_url", "parse_redis_url"]


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_redis_url(url: str) -> tuple[str, str | None]:
    """Split ``redis://host:port/db?prefix=x`` into the connection URL and the prefix."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", [None])[-1]
    rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), prefix
