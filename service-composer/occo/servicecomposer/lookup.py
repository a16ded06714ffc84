"""How templates read other nodes: the lookup protocol and an in-memory implementation.

The service composer never asks a cloud where a node is. ``getip('db')`` and friends go
through a :class:`NodeLookup` that it is given: occo-api implements it over the info
broker, tests and embedded users can use :class:`MemoryLookup`.

An instance record is a mapping::

    {"instance_id": "...", "addresses": ["10.0.0.5", ...],
     "private_addresses": ["192.168.0.5", ...]}

``addresses`` are the public (or only) addresses, ``private_addresses`` may be empty.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["NodeLookup", "MemoryLookup", "instance_record"]


@runtime_checkable
class NodeLookup(Protocol):
    """Read-only view of the instances of an infrastructure's nodes."""

    def ready_instances(self, infra_id: str, node_name: str) -> Sequence[Mapping[str, Any]]:
        """The ready instances of ``node_name``, oldest first."""

    def instances(self, infra_id: str, node_name: str) -> Sequence[Mapping[str, Any]]:
        """Every instance of ``node_name`` in any state, oldest first."""


def instance_record(instance_id: str, addresses: Iterable[str] = (),
                    private_addresses: Iterable[str] = ()) -> dict[str, Any]:
    """An instance record in the shape :class:`NodeLookup` returns."""
    return {"instance_id": instance_id, "addresses": list(addresses),
            "private_addresses": list(private_addresses)}


class MemoryLookup:
    """A :class:`NodeLookup` kept in memory, for tests and single-process use.

    Instances are kept in the order they were added (that is, oldest first); ``ready``
    marks whether :meth:`ready_instances` returns them. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[tuple[str, str], list[tuple[dict[str, Any], bool]]] = {}

    def add(self, infra_id: str, node_name: str, instance_id: str, *,
            addresses: Iterable[str] = (), private_addresses: Iterable[str] = (),
            ready: bool = True) -> None:
        """Record an instance (replacing one with the same id, keeping its place)."""
        record = instance_record(instance_id, addresses, private_addresses)
        with self._lock:
            items = self._nodes.setdefault((infra_id, node_name), [])
            for i, (old, _) in enumerate(items):
                if old["instance_id"] == instance_id:
                    items[i] = (record, ready)
                    return
            items.append((record, ready))

    def set_ready(self, infra_id: str, node_name: str, instance_id: str, ready: bool) -> None:
        """Change whether an instance counts as ready; ``KeyError`` if unknown."""
        with self._lock:
            items = self._nodes.get((infra_id, node_name), [])
            for i, (record, _) in enumerate(items):
                if record["instance_id"] == instance_id:
                    items[i] = (record, ready)
                    return
        raise KeyError(instance_id)

    def remove(self, infra_id: str, node_name: str, instance_id: str) -> None:
        """Forget an instance (nothing happens if it is unknown)."""
        with self._lock:
            items = self._nodes.get((infra_id, node_name), [])
            items[:] = [(r, ok) for r, ok in items if r["instance_id"] != instance_id]

    def ready_instances(self, infra_id: str, node_name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r, ok in self._nodes.get((infra_id, node_name), []) if ok]

    def instances(self, infra_id: str, node_name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r, _ in self._nodes.get((infra_id, node_name), [])]
