"""The three endpoints' contracts: what each serves, as a :class:`typing.Protocol`, and the
typed clients that call them.

Every call between OCCO's parts goes through one of these protocols. The method names
are written here once: a server's ``RPC_METHODS`` is :func:`methods_of` its protocol, and a
caller uses :func:`cloud_client`, :func:`composer_client` or :func:`processor_client` (a
blocking call: ``cloud.create_nodes(specs=...)``) or
passes the protocol's method itself to a scheduler that submits calls
(``submit(client, CloudHandlerEndpoint.get_states, refs=...)``), so a misspelt method is a
type error, not a string that fails at run time.

Results are typed: a protocol's return annotation names the result type of
:mod:`occo.util.comm.messages` (``dict[str, NodeStatus]``), the server answers with its
JSON form, and the typed clients, :func:`submit` and :func:`call` give the caller the type
(:func:`result_decoder`; a server in the same process may answer with the type itself).
Parameters are JSON values or message types; the transports encode both with the one JSON
codec (:func:`~occo.util.comm.messages.json_default`: a message's ``to_json``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from functools import cache
from typing import Any, Protocol, cast, get_args, get_origin, get_type_hints, runtime_checkable

from ..errors import TransportError
from ..nodespec import NodeSpec
from .base import Client
from .messages import Created, Dropped, Health, NodeAddresses, NodeStatus, Resolved

__all__ = ["CloudHandlerEndpoint", "ProcessorEndpoint", "ServiceComposerEndpoint",
           "PROTOCOLS", "call", "cloud_client", "composer_client",
           "method_name", "methods_of", "processor_client", "result_decoder", "submit"]

JSON = dict[str, Any]


@runtime_checkable
class CloudHandlerEndpoint(Protocol):
    """The ``cloudhandler`` endpoint (served by occo.cloudhandler.CloudHandlerService)."""

    def create_node(self, spec: NodeSpec | Mapping[str, Any]) -> JSON: ...
    def create_nodes(self, specs: Sequence[NodeSpec | Mapping[str, Any]]) -> list[Created]: ...
    def drop_node(self, ref: Mapping[str, Any]) -> JSON: ...
    def drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[Dropped]: ...
    def get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeStatus]: ...
    def watch_states(self, refs: Sequence[Mapping[str, Any]], known: Mapping[str, str],
                     timeout: float) -> dict[str, NodeStatus]: ...
    def get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeAddresses]: ...
    def list_nodes(self, infra_id: str,
                   resources: Iterable[Mapping[str, Any]] | None = None) -> list[JSON]: ...
    def endpoint_key(self, resource: Mapping[str, Any]) -> str: ...
    def backends(self) -> dict[str, list[str]]: ...
    def preflight(self, resource: Mapping[str, Any], node: str | None = None) -> str: ...
    def limits(self, resource: Mapping[str, Any]) -> JSON: ...


@runtime_checkable
class ServiceComposerEndpoint(Protocol):
    """The ``servicecomposer`` endpoint (occo.servicecomposer.ComposerEndpoint)."""

    def resolve(self, request: Mapping[str, Any]) -> JSON: ...
    def resolve_many(self, requests: Sequence[Mapping[str, Any]]) -> list[Resolved]: ...
    def check_health(self, targets: Sequence[Mapping[str, Any]]) -> dict[str, Health]: ...
    def config_ready(self, request: Mapping[str, Any], address: str) -> bool: ...
    def config_managers(self) -> JSON: ...


@runtime_checkable
class ProcessorEndpoint(Protocol):
    """The ``infraprocessor`` endpoint (occo.infraprocessor.Processor)."""

    def execute(self, infra_id: str, instructions: Iterable[Any],
                keep_on_failure: bool = False, request_id: str | None = None) -> JSON: ...
    def cancel(self, infra_id: str) -> bool: ...


#: the protocol of each endpoint name (occo.util.comm.ENDPOINTS)
PROTOCOLS: dict[str, type] = {"infraprocessor": ProcessorEndpoint,
                              "cloudhandler": CloudHandlerEndpoint,
                              "servicecomposer": ServiceComposerEndpoint}


@cache
def methods_of(protocol: type) -> tuple[str, ...]:
    """The methods ``protocol`` declares, in declaration order (a server's RPC_METHODS)."""
    return tuple(name for name, value in vars(protocol).items()
                 if not name.startswith("_") and inspect.isfunction(value))


def method_name(method: Callable[..., Any]) -> str:
    """The endpoint method a protocol's method stands for (``CloudHandlerEndpoint.limits``
    -> ``"limits"``); anything else is refused."""
    name = getattr(method, "__name__", "")
    owner = getattr(method, "__qualname__", "").partition(".")[0]
    protocol = next((p for p in PROTOCOLS.values() if p.__name__ == owner), None)
    if protocol is None or name not in methods_of(protocol):
        raise TypeError(f"{method!r} is not a method of an endpoint protocol")
    return name


def _decoder(annotation: Any) -> Callable[[Any], Any] | None:
    if isinstance(annotation, type) and hasattr(annotation, "from_json"):
        kind: Any = annotation
        return lambda value: value if isinstance(value, kind) else kind.from_json(value)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        item = _decoder(args[0])
        return None if item is None else (lambda value: [item(v) for v in value])
    if origin is dict and len(args) == 2:
        entry = _decoder(args[1])
        return None if entry is None else (
            lambda value: {k: entry(v) for k, v in value.items()})
    return None


@cache
def result_decoder(method: Callable[..., Any]) -> Callable[[Any], Any] | None:
    """What turns the reply of ``method`` (a protocol's method) into its result type, or
    None where the result is plain JSON. A reply of another shape is a TransportError
    naming the method (the endpoint does not keep the contract)."""
    name = method_name(method)
    decode = _decoder(get_type_hints(method).get("return"))
    if decode is None:
        return None
    kind = str(get_type_hints(method).get("return")).replace("occo.util.comm.messages.", "")

    def checked(value: Any) -> Any:
        try:
            return decode(value)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise TransportError(f"the reply to {name} is not a {kind}: "
                                 f"{type(exc).__name__}: {exc}") from exc
    return checked


def _decoded(future: Future[Any], decode: Callable[[Any], Any]) -> Future[Any]:
    out: Future[Any] = Future()

    def done(finished: Future[Any]) -> None:
        try:
            out.set_result(decode(finished.result()))
        except BaseException as exc:  # noqa: BLE001 - the caller's future carries it
            out.set_exception(exc)
    future.add_done_callback(done)
    return out


def submit(client: Client, method: Callable[..., Any], **params: Any) -> Future[Any]:
    """Start a call of ``method`` (a protocol's method) on ``client``'s endpoint; the
    future's result is of the method's result type."""
    future = client.submit(method_name(method), **params)
    decode = result_decoder(method)
    return future if decode is None else _decoded(future, decode)


def call(client: Client, method: Callable[..., Any], *, timeout: float | None = None,
         **params: Any) -> Any:
    """Call ``method`` and wait (``timeout`` seconds: CallTimeoutError) for its result,
    of the method's result type."""
    result = client.call(method_name(method), timeout=timeout, **params)
    decode = result_decoder(method)
    return result if decode is None else decode(result)


@cache
def _proxy_class(protocol: type) -> type:
    def make(name: str) -> Callable[..., Any]:
        signature = inspect.signature(getattr(protocol, name))

        decode = result_decoder(getattr(protocol, name))

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(self, *args, **kwargs)   # a wrong argument: TypeError
            params = dict(bound.arguments)
            del params["self"]
            result = self._client.call(name, timeout=self._timeout, **params)
            return result if decode is None else decode(result)
        call.__name__ = call.__qualname__ = name
        call.__doc__ = getattr(protocol, name).__doc__
        return call

    def init(self: Any, client: Client, timeout: float | None) -> None:
        self._client = client
        self._timeout = timeout

    def show(self: Any) -> str:
        return f"<{protocol.__name__} client of {self._client.endpoint}>"

    body: dict[str, Any] = {name: make(name) for name in methods_of(protocol)}
    body.update(__init__=init, __repr__=show, __slots__=("_client", "_timeout"))
    return type(f"{protocol.__name__}Client", (), body)


def _typed(protocol: type, client: Client, timeout: float | None) -> Any:
    """A client of ``client``'s endpoint with ``protocol``'s methods; each call blocks for
    the reply (at most ``timeout`` seconds: CallTimeoutError). Arguments are checked
    against the protocol's signature before anything is sent."""
    return _proxy_class(protocol)(client, timeout)


def cloud_client(client: Client, *, timeout: float | None = None) -> CloudHandlerEndpoint:
    """The cloudhandler endpoint behind ``client``, typed (see :func:`_typed`)."""
    return cast(CloudHandlerEndpoint, _typed(CloudHandlerEndpoint, client, timeout))


def composer_client(client: Client, *,
                    timeout: float | None = None) -> ServiceComposerEndpoint:
    """The servicecomposer endpoint behind ``client``, typed."""
    return cast(ServiceComposerEndpoint, _typed(ServiceComposerEndpoint, client, timeout))


def processor_client(client: Client, *, timeout: float | None = None) -> ProcessorEndpoint:
    """The infraprocessor endpoint behind ``client``, typed."""
    return cast(ProcessorEndpoint, _typed(ProcessorEndpoint, client, timeout))
