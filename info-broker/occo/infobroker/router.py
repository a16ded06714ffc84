"""The InfoRouter: keyed queries (``node.state``, ``infrastructure.node_instances``, ...)
answered by whichever provider declares the key.

A provider is an :class:`InfoProvider` whose methods are marked with :func:`provides`::

    class CloudProvider(InfoProvider):
        @provides("node.resource.state")
        def resource_state(self, instance_id: str) -> str: ...

    router = InfoRouter([StoreProvider(store), CloudProvider(handlers)])
    router.get("node.state", instance_id="...")

Providers are registered by whoever wires the system (occo-api); this package imports
none but its own :class:`~occo.infobroker.store_provider.StoreProvider`. When several
providers declare one key, the first registered answers (``register(p, first=True)`` puts
a provider in front). Asking for a key nobody declares is an :class:`InfoKeyError` that
lists the known keys; asking with arguments the provider does not take is an
:class:`InfoArgumentError` that names the ones it does.
"""

from __future__ import annotations

import difflib
import inspect
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .errors import InfoArgumentError, InfoKeyError

__all__ = ["InfoProvider", "InfoRouter", "provides"]

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__occo_info_keys__"


def provides(*keys: str) -> Callable[[F], F]:
    """Mark a provider method as the answer to ``keys``."""
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ValueError("provides() needs at least one non-empty key")

    def mark(method: F) -> F:
        setattr(method, _MARK, (*getattr(method, _MARK, ()), *keys))
        return method
    return mark


class InfoProvider:
    """Base of providers: the keys are collected from methods marked with :func:`provides`
    (inherited ones included)."""

    def provided(self) -> dict[str, Callable[..., Any]]:
        """``{key: bound method}`` of every key this provider answers."""
        out: dict[str, Callable[..., Any]] = {}
        for klass in reversed(type(self).__mro__):
            for name, member in vars(klass).items():
                for key in getattr(member, _MARK, ()):
                    out[key] = getattr(self, name)
        return out


class InfoRouter:
    """Routes ``get(key, **kwargs)`` to the provider that declares ``key``. Thread-safe."""

    def __init__(self, providers: Iterable[InfoProvider] = ()) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, list[tuple[InfoProvider, Callable[..., Any]]]] = {}
        for provider in providers:
            self.register(provider)

    def register(self, provider: InfoProvider, *, first: bool = False) -> None:
        """Add a provider; with ``first`` it answers its keys before those already there."""
        provided = provider.provided()
        if not provided:
            raise ValueError(f"{type(provider).__name__} declares no keys (mark its methods "
                             f"with @provides)")
        with self._lock:
            for key, method in provided.items():
                routes = self._routes.setdefault(key, [])
                routes.insert(0 if first else len(routes), (provider, method))

    def unregister(self, provider: InfoProvider) -> None:
        with self._lock:
            for key in list(self._routes):
                self._routes[key] = [r for r in self._routes[key] if r[0] is not provider]
                if not self._routes[key]:
                    del self._routes[key]

    def keys(self) -> list[str]:
        """Every key some provider answers, sorted."""
        with self._lock:
            return sorted(self._routes)

    def __contains__(self, key: object) -> bool:
        return key in self._routes

    def describe(self) -> dict[str, dict[str, Any]]:
        """For each key: its parameters and the first line of its docstring (for a REST
        listing of keys)."""
        with self._lock:
            routes = {key: entries[0][1] for key, entries in self._routes.items()}
        out = {}
        for key, method in sorted(routes.items()):
            doc = inspect.getdoc(method) or ""
            out[key] = {"parameters": list(inspect.signature(method).parameters),
                        "doc": doc.splitlines()[0] if doc else ""}
        return out

    def get(self, key: str, **kwargs: Any) -> Any:
        """Ask the provider of ``key``; its answer, or its error, is returned as is."""
        with self._lock:
            entries = self._routes.get(key)
            method = entries[0][1] if entries else None
        if method is None:
            known = self.keys()
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InfoKeyError(str(key), known, message=(
                f"unknown info key {key!r}{hint}; known keys: "
                f"{', '.join(known) or 'none registered'}"))
        signature = inspect.signature(method)
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            params = ", ".join(
                p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
                for p in signature.parameters.values()) or "nothing"
            raise InfoArgumentError(key, self.keys(), message=(
                f"info key {key!r} takes ({params}); {exc}")) from None
        return method(**kwargs)
