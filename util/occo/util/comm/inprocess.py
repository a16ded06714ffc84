"""The default transport: endpoints served in this process on bounded worker pools.

Calls behave as they would across processes: errors come back as ``RemoteError``, a call
that does not finish within its timeout raises ``CallTimeoutError`` (the work itself goes
on in its worker thread), and with ``check_json=True`` every request and reply is passed
through JSON, which tests use to prove that what crosses an endpoint is JSON-able.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import TransportError
from .base import Client, RemoteError, Transport, encode_error, rpc_methods
from .messages import json_default

__all__ = ["InProcessTransport"]


class _Served:
    def __init__(self, handler: object, methods: frozenset[str], concurrency: int,
                 endpoint: str) -> None:
        self.handler = handler
        self.methods = methods
        self.pool = ThreadPoolExecutor(max_workers=concurrency,
                                       thread_name_prefix=f"occo-{endpoint}")


class _InProcessClient(Client):
    def __init__(self, transport: InProcessTransport, endpoint: str) -> None:
        self.transport = transport
        self.endpoint = endpoint

    def submit(self, method: str, **params: Any) -> Future[Any]:
        served = self.transport._lookup(self.endpoint)
        if method not in served.methods:
            raise TransportError(f"endpoint {self.endpoint!r} has no method {method!r}; "
                                 f"it offers {', '.join(sorted(served.methods))}")
        check = self.transport.check_json
        if check:
            try:
                params = json.loads(json.dumps(params, default=json_default))
            except (TypeError, ValueError) as exc:
                raise TransportError(f"{self.endpoint}.{method}: parameters are not JSON: "
                                     f"{exc}") from exc
        return served.pool.submit(self._dispatch, served, method, params, check)

    @staticmethod
    def _dispatch(served: _Served, method: str, params: dict[str, Any], check: bool) -> Any:
        try:
            result = getattr(served.handler, method)(**params)
            return json.loads(json.dumps(result, default=json_default)) if check else result
        except Exception as exc:  # carried back as data, like any transport does
            raise RemoteError(encode_error(exc)) from exc


class InProcessTransport(Transport):
    """Endpoints in this process. ``check_json`` round-trips every message through JSON."""

    name = "inprocess"

    def __init__(self, *, check_json: bool = False) -> None:
        self.check_json = check_json
        self._served: dict[str, _Served] = {}
        self._lock = threading.Lock()

    def serve(self, endpoint: str, handler: object, *, methods: Iterable[str] | None = None,
              concurrency: int = 8) -> None:
        exposed = rpc_methods(handler, methods)
        with self._lock:
            if endpoint in self._served:
                raise TransportError(f"endpoint {endpoint!r} is already served in this process")
            self._served[endpoint] = _Served(handler, exposed, concurrency, endpoint)

    def _lookup(self, endpoint: str) -> _Served:
        served = self._served.get(endpoint)
        if served is None:
            raise TransportError(f"no endpoint {endpoint!r} is served in this process "
                                 f"(served: {', '.join(sorted(self._served)) or 'none'})")
        return served

    def client(self, endpoint: str) -> Client:
        return _InProcessClient(self, endpoint)

    def close(self) -> None:
        with self._lock:
            served, self._served = self._served, {}
        for item in served.values():
            item.pool.shutdown(wait=True, cancel_futures=True)
