"""Settings of the amqp transport: validated once, with the broker URL kept out of sight.

The configuration keys are those of occo-api's ``transport:`` section (``url``, ``prefix``,
``rpc_timeout``, ``prefetch``, ``max_redeliveries``) plus the reconnect bounds, which have
defaults. :func:`safe_url` is the only form of the URL that reaches logs and errors: it
names user, host, port and virtual host, never the password; the password is also
registered with :func:`occo.util.secrets.register_secret`, so any other path that shows it
is scrubbed too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pika

from ..errors import ConfigError, InputError, InputErrors
from ..located import location_of
from ..ratelimit import Backoff
from ..schema import Field, Schema, is_template
from ..secrets import register_secret

__all__ = ["AmqpSettings", "DEFAULT_URL", "TRANSPORT_SCHEMA", "safe_url", "settings_from"]

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,100}$")
_NUMERIC = {"rpc_timeout": "a number", "prefetch": "an integer", "max_redeliveries": "an integer",
            "reconnect_timeout": "a number", "connect_timeout": "a number",
            "close_grace": "a number"}

TRANSPORT_SCHEMA = Schema("transport", (
    Field("backend", choices=("inprocess", "amqp"), doc="inprocess (default) or amqp"),
    Field("url", doc="amqp://user:password@host:port/vhost"),
    Field("prefix", doc="queue name prefix (default: occo)"),
    Field("rpc_timeout", "number", minimum=0, doc="seconds an RPC may take"),
    Field("prefetch", "int", minimum=1, doc="unacknowledged messages per worker"),
    Field("max_redeliveries", "int", minimum=0,
          doc="deliveries of a failing message before it goes to the dead-letter queue"),
    Field("reconnect_timeout", "number", minimum=0,
          doc="seconds the broker may stay away before waiting calls fail"),
    Field("connect_timeout", "number", minimum=0, doc="seconds one connection attempt may take"),
    Field("close_grace", "number", minimum=0,
          doc="seconds close() waits for running handlers"),
))


def safe_url(url: str) -> str:
    """``url`` without its password: ``amqp://guest@127.0.0.1:5672/%2F``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = (f"{parts.username}@" if parts.username else "") + host
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<an unparsable AMQP URL>"


@dataclass(frozen=True, slots=True, kw_only=True)
class AmqpSettings:
    """Everything the amqp transport needs to know; build with :func:`settings_from`."""

    url: str = field(repr=False)
    prefix: str = "occo"
    rpc_timeout: float = 3600.0
    prefetch: int = 8
    max_redeliveries: int = 3
    reconnect_timeout: float = 30.0
    connect_timeout: float = 5.0
    close_grace: float = 30.0
    backoff: Backoff = Backoff(base=0.1, factor=2.0, cap=5.0)

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    def queue(self, endpoint: str) -> str:
        return f"{self.prefix}.{endpoint}"

    def dead_queue(self, endpoint: str) -> str:
        return f"{self.prefix}.{endpoint}.dead"

    def parameters(self, connection_name: str) -> pika.URLParameters:
        """pika's connection parameters: one attempt each (the transport does the retrying)."""
        params = pika.URLParameters(self.url)
        params.connection_attempts = 1
        params.retry_delay = 0
        params.socket_timeout = self.connect_timeout
        params.stack_timeout = self.connect_timeout
        params.blocked_connection_timeout = max(self.connect_timeout, 60.0)
        params.client_properties = {"connection_name": connection_name, "product": "OCCO"}
        return params

    def __repr__(self) -> str:
        return (f"AmqpSettings(url={self.safe_url!r}, prefix={self.prefix!r}, "
                f"rpc_timeout={self.rpc_timeout:g}, prefetch={self.prefetch}, "
                f"max_redeliveries={self.max_redeliveries})")


def _located(mapping: Any, key: str, message: str) -> ConfigError:
    return ConfigError(message, location=location_of(mapping, key, path=f"transport.{key}"))


def settings_from(mapping: Mapping[str, Any] | None = None, **overrides: Any) -> AmqpSettings:
    """Validated settings from a ``transport:`` mapping (keys as in occo.yaml).

    ``overrides`` (keyword arguments of :class:`AmqpSettings`, ``backoff`` included) win
    over the mapping. Bad values raise :class:`~occo.util.errors.ConfigError` naming the
    key (and file and line when the mapping came from a YAML file); several at once raise
    ``InputErrors``.
    """
    given: Any = mapping if mapping is not None else {}
    problems: list[InputError] = TRANSPORT_SCHEMA.check(given, "transport")
    values = {k: v for k, v in given.items() if k != "backend"} \
        if isinstance(given, Mapping) else {}
    for key, value in values.items():
        kind = _NUMERIC.get(key)
        if kind and is_template(value):  # the schema lets templates pass; numbers can't be
            problems.append(_located(given, key, f"must be {kind}, got {value!r}"))
    for key in ("rpc_timeout", "connect_timeout"):
        if isinstance(values.get(key), (int, float)) and values[key] == 0:
            problems.append(_located(given, key, "must be a number > 0, got 0"))
    url = values.get("url", DEFAULT_URL)
    if isinstance(url, str):
        problems.extend(_url_problems(given, url))
    prefix = values.get("prefix", "occo")
    if isinstance(prefix, str) and (not _NAME.match(prefix) or prefix.startswith("amq.")):
        problems.append(_located(given, "prefix", "must be a queue name prefix of letters, "
                                 "digits and _ . : - (not starting with 'amq.'), got "
                                 f"{prefix!r}"))
    if problems:
        converted = [ConfigError(p.message, location=p.location) for p in problems]
        raise converted[0] if len(converted) == 1 else InputErrors(converted)
    values.setdefault("url", DEFAULT_URL)
    values.update(overrides)
    return AmqpSettings(**values)


def _url_problems(mapping: Any, url: str) -> list[InputError]:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return [_located(mapping, "url", f"not an AMQP URL ({exc}): {safe_url(url)}")]
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        return [_located(mapping, "url", f"must be amqp://user:password@host:port/vhost "
                                         f"(or amqps://), got {safe_url(url)!r}")]
    if parts.password:
        register_secret(parts.password)
        register_secret(unquote(parts.password))
    try:
        pika.URLParameters(url)
    except Exception as exc:  # pika validates query options and the vhost
        return [_located(mapping, "url", f"pika cannot use this URL ({type(exc).__name__}: "
                                         f"{exc}): {safe_url(url)}")]
    return []
