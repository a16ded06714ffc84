"""``urls``: an HTTP GET of each URL answers with a 2xx or 3xx status.

URLs are rendered with ``ip`` set to the node's address (``http://{{ip}}/wordpress``).
Redirects are not followed (a 3xx is healthy in itself), proxies from the environment
are not used, and ``https`` certificates are verified unless configured otherwise.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .base import HealthCheck, ProbeFailed

__all__ = ["UrlsCheck", "redact_url"]


def redact_url(url: str) -> str:
    """``url`` without a password in its user part."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class UrlsCheck(HealthCheck):
    """``urls: ['http://{{ip}}/']``: each URL answers GET with 2xx or 3xx."""

    key = "urls"

    def targets(self, value: Any, *, address: str) -> list[Any]:
        items = value if isinstance(value, (list, tuple)) else [value]
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise ValueError(f"item {i}: {item!r} is not a URL")
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"item {i}: {redact_url(item)!r} is not an http:// or "
                                 "https:// URL with a host")
            out.append(item)
        return out

    def describe(self, target: Any) -> str:
        return redact_url(str(target))

    async def open_round(self) -> Any:
        return httpx.AsyncClient(follow_redirects=False, trust_env=False,
                                 verify=self.config.verify_tls,
                                 limits=httpx.Limits(max_connections=self.config.max_concurrency,
                                                     max_keepalive_connections=0))

    async def close_round(self, state: Any) -> None:
        await state.aclose()

    async def probe(self, address: str, target: Any, timeout: float, state: Any) -> str:
        try:
            response = await state.get(str(target), timeout=timeout)
        except httpx.TimeoutException as exc:
            raise ProbeFailed(f"no answer within {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise ProbeFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 400:
            raise ProbeFailed(f"HTTP {response.status_code} {response.reason_phrase}")
        return f"HTTP {response.status_code}"
