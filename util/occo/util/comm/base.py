"""Named endpoints over interchangeable transports: the interface and the message format.

Components never import each other across the package contract; they call endpoints
(``infraprocessor``, ``cloudhandler``, ``servicecomposer``) through a :class:`Transport`.
A served object exposes the methods it lists in ``RPC_METHODS``; a client calls them with
keyword arguments that are JSON-able, and gets a JSON-able result or a :class:`RemoteError`.

Messages are JSON with a schema version (:data:`MESSAGE_SCHEMA`)::

    request  {"schema": 1, "method": "create_node", "params": {...}}
    reply    {"schema": 1, "result": ...}  or  {"schema": 1, "error": {...}}

A reply may also carry ``"refused": true`` next to its error: the endpoint ran no handler
(unknown method, unreadable request), and the caller raises a :class:`TransportError`
instead of a :class:`RemoteError`, as the in-process transport does for the same cases.

Errors cross as data (:func:`encode_error`): their type name, message, whether a retry may
help (``retryable``), the CLI exit code and the structured fields of ``OccoError.to_dict``;
every transport raises them as :class:`RemoteError`, so callers behave the same whichever
transport carries the call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from ..errors import CallTimeoutError, OccoError, TransportError
from ..secrets import redact, scrub

__all__ = ["MESSAGE_SCHEMA", "ENDPOINTS", "Transport", "Client", "RemoteError", "encode_error",
           "rpc_methods", "request_message", "check_schema"]

MESSAGE_SCHEMA = 1
ENDPOINTS = ("infraprocessor", "cloudhandler", "servicecomposer")


class RemoteError(OccoError):
    """An error raised by the endpoint's handler, carried back to the caller."""

    def __init__(self, data: dict[str, Any]) -> None:
        details = dict(data.get("details") or {})
        super().__init__(str(data.get("text") or data.get("message", "remote error")),
                         node=details.get("node"), infra_id=details.get("infra_id"))
        self.kind = str(data.get("type", "Exception"))
        self.retryable = bool(data.get("retryable", False))
        self.exit_code = int(data.get("exit_code", 1))
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {**self.details, "error": self.kind, "message": self.message}


def encode_error(exc: BaseException) -> dict[str, Any]:
    """The JSON form of an exception raised by a handler; secrets are scrubbed."""
    text = scrub(str(exc))
    if isinstance(exc, RemoteError):
        return {"type": exc.kind, "message": text, "text": text, "retryable": exc.retryable,
                "exit_code": exc.exit_code, "details": exc.details}
    details = redact(exc.to_dict()) if isinstance(exc, OccoError) else {}
    return {"type": type(exc).__name__, "message": scrub(getattr(exc, "message", text)),
            "text": text, "retryable": bool(getattr(exc, "retryable", False)),
            "exit_code": int(getattr(exc, "exit_code", 1)), "details": details}


def rpc_methods(handler: object, methods: Iterable[str] | None) -> frozenset[str]:
    """The method names a served handler exposes (explicit, or its RPC_METHODS)."""
    names = frozenset(methods if methods is not None else getattr(handler, "RPC_METHODS", ()))
    if not names:
        raise TransportError(f"{type(handler).__name__} exposes no RPC methods "
                             "(give methods= or define RPC_METHODS)")
    missing = [n for n in names if not callable(getattr(handler, n, None)) or n.startswith("_")]
    if missing:
        raise TransportError(f"{type(handler).__name__} has no public method(s) "
                             f"{', '.join(sorted(missing))}")
    return names


def request_message(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"schema": MESSAGE_SCHEMA, "method": method, "params": params}


def check_schema(message: dict[str, Any]) -> None:
    version = message.get("schema") if isinstance(message, dict) else None
    if version != MESSAGE_SCHEMA:
        raise TransportError(f"message schema {version!r} is not supported "
                             f"(this OCCO speaks {MESSAGE_SCHEMA})")


class Client(ABC):
    """Calls one endpoint's methods."""

    endpoint: str

    @abstractmethod
    def submit(self, method: str, **params: Any) -> Future[Any]:
        """Start a call; the future's result is the reply, or it raises RemoteError."""

    def call(self, method: str, *, timeout: float | None = None, **params: Any) -> Any:
        """Call and wait for the reply; CallTimeoutError after ``timeout`` seconds."""
        future = self.submit(method, **params)
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise CallTimeoutError(f"{self.endpoint}.{method} did not answer within "
                                   f"{timeout:g} s") from None


class Transport(ABC):
    """Serves handlers under endpoint names and makes clients for them."""

    name: str

    @abstractmethod
    def serve(self, endpoint: str, handler: object, *, methods: Iterable[str] | None = None,
              concurrency: int = 8) -> None:
        """Answer calls to ``endpoint`` with ``handler``'s exposed methods."""

    @abstractmethod
    def client(self, endpoint: str) -> Client:
        """A client for ``endpoint``."""

    @abstractmethod
    def close(self) -> None:
        """Stop serving and release connections."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
