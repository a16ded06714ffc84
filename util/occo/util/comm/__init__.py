"""occo.util.comm: named endpoints over the in-process and AMQP transports."""

from .base import (ENDPOINTS, MESSAGE_SCHEMA, Client, RemoteError, Transport, encode_error,
                   rpc_methods)
from .inprocess import InProcessTransport

__all__ = ["ENDPOINTS", "MESSAGE_SCHEMA", "Client", "RemoteError", "Transport", "encode_error",
           "rpc_methods", "InProcessTransport"]
