"""occo.util.comm: named endpoints over the in-process and AMQP transports.

:func:`open_transport` picks the transport a ``transport:`` configuration names. The amqp
transport (and pika with it) is imported only when it is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..located import location_of
from .base import (
    ENDPOINTS,
    MESSAGE_SCHEMA,
    Client,
    RemoteError,
    Transport,
    encode_error,
    rpc_methods,
)
from .contracts import (
    PROTOCOLS,
    CloudHandlerEndpoint,
    ProcessorEndpoint,
    ServiceComposerEndpoint,
    call,
    cloud_client,
    composer_client,
    method_name,
    methods_of,
    processor_client,
    result_decoder,
    submit,
)
from .inprocess import InProcessTransport
from .messages import (
    UNKNOWN_STATUS,
    CallError,
    Created,
    Dropped,
    Health,
    NodeAddresses,
    NodeStatus,
    Resolved,
    ResourceState,
    json_default,
)

if TYPE_CHECKING:
    from .amqp import AmqpTransport

__all__ = ["ENDPOINTS", "MESSAGE_SCHEMA", "Client", "RemoteError", "Transport", "encode_error",
           "rpc_methods", "InProcessTransport", "AmqpTransport", "open_transport",
           "PROTOCOLS", "CloudHandlerEndpoint", "ProcessorEndpoint", "ServiceComposerEndpoint",
           "cloud_client", "composer_client", "method_name", "methods_of", "processor_client",
           "submit", "call", "result_decoder", "CallError", "Created", "Dropped", "Health",
           "NodeAddresses", "NodeStatus", "Resolved", "ResourceState", "UNKNOWN_STATUS",
           "json_default"]

BACKENDS = ("inprocess", "amqp")


def open_transport(config: Mapping[str, Any] | None = None, **overrides: Any) -> Transport:
    """The transport a ``transport:`` mapping describes (keys as in occo.yaml).

    ``backend: inprocess`` (the default) gives an :class:`InProcessTransport` and ignores
    the amqp keys; ``backend: amqp`` gives an :class:`~occo.util.comm.amqp.AmqpTransport`
    built from ``url``, ``prefix``, ``rpc_timeout``, ``prefetch``, ``max_redeliveries``
    (and ``overrides``, keyword arguments of ``AmqpSettings``). A bad value raises
    :class:`~occo.util.errors.ConfigError` naming the key, and the file and line when the
    mapping was loaded from YAML.
    """
    mapping: Any = config if config is not None else {}
    backend = mapping.get("backend", "inprocess") if isinstance(mapping, Mapping) else None
    if backend == "inprocess":
        return InProcessTransport()
    if backend == "amqp":
        from .amqp import AmqpTransport
        return AmqpTransport.from_config(mapping, **overrides)
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"must be a mapping, got {type(mapping).__name__}",
                          location=location_of(mapping, path="transport"))
    raise ConfigError(f"unknown transport backend {backend!r}; choose one of "
                      f"{', '.join(BACKENDS)}",
                      location=location_of(mapping, "backend", path="transport.backend"))


def __getattr__(name: str) -> Any:
    if name == "AmqpTransport":
        from .amqp import AmqpTransport
        return AmqpTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
