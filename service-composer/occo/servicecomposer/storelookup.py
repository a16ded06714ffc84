"""The :class:`~occo.servicecomposer.NodeLookup` over the info broker's store.

Templates read other nodes only through the info broker. Within ``cached()``, answers
are memoised per thread: a batch of renders sees one consistent view and costs one
store query per node it reads, not one per template call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from occo.infobroker import InstanceState, Intent, Store

from .lookup import instance_record

__all__ = ["StoreLookup"]


class StoreLookup:
    """Instances of an infrastructure's nodes as the store records them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._local = threading.local()

    @contextmanager
    def cached(self) -> Iterator[None]:
        self._local.cache = {}
        try:
            yield
        finally:
            self._local.cache = None

    def _records(self, infra_id: str, node_name: str) -> list:
        cache = getattr(self._local, "cache", None)
        key = (infra_id, node_name)
        if cache is not None and key in cache:
            return cache[key]
        records = sorted(self.store.list_instances(infra_id, node_name),
                         key=lambda r: (r.created_at, r.instance_id))
        if cache is not None:
            cache[key] = records
        return records

    def ready_instances(self, infra_id: str, node_name: str) -> Sequence[Mapping[str, Any]]:
        return [instance_record(r.instance_id, r.addresses, r.private_addresses)
                for r in self._records(infra_id, node_name)
                if r.state == InstanceState.READY and r.intent == Intent.CREATED]

    def instances(self, infra_id: str, node_name: str) -> Sequence[Mapping[str, Any]]:
        return [instance_record(r.instance_id, r.addresses, r.private_addresses)
                for r in self._records(infra_id, node_name) if r.intent != Intent.DROPPING]
