"""``synch_attrs``: the node is ready only when each named attribute has a value.

Occopus's meaning (its basic health check, ``attributes_ready``): a mapping of a
dependency edge written ``{attributes: [source, target], synch: true}`` makes the
*dependency* wait until its attribute ``source`` is available (found and not null)
before it counts as ready, so its dependents wait for it too. The service composer
gathers those names from the node's outbound mappings (and from a ``synch_attrs`` list
in the ``health_check`` section) and resolves them with :func:`attribute_values` into a
mapping ``{name: value or None}``, which is this check's value.

OCCO has no Chef server to publish attributes at run time, so an attribute is looked
up, as a dotted path, in what OCCO knows of the instance: its address (``ip``,
``address``), its ids and names, the node's ``attributes`` and its contextualisation's
``attributes``. One that is never found keeps the node unready until its health check
timeout fails it, with this check's detail saying which attribute is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from occo.util import synch_attribute_names

from .base import HealthCheck, ProbeFailed

__all__ = ["SynchAttrsCheck", "attribute_values", "lookup_attribute", "synch_attribute_names"]

_MISSING = object()


def lookup_attribute(sources: Iterable[Mapping[str, Any]], name: str) -> Any:
    """``name`` (a key, or a dotted path into nested mappings) in the first source that
    has it; ``None`` when none does."""
    for source in sources:
        value = source.get(name, _MISSING) if isinstance(source, Mapping) else _MISSING
        if value is _MISSING:
            value = source
            for part in name.split("."):
                if not isinstance(value, Mapping) or part not in value:
                    value = _MISSING
                    break
                value = value[part]
        if value is not _MISSING:
            return value
    return None


def attribute_values(names: Iterable[str], *, address: str, instance: Mapping[str, Any],
                     attributes: Mapping[str, Any] | None,
                     context_attributes: Any) -> dict[str, Any]:
    """Each name's value for one started instance, ``None`` where it has none."""
    runtime = {"ip": address, "address": address, **instance}
    sources = [runtime, attributes or {},
               context_attributes if isinstance(context_attributes, Mapping) else {}]
    return {name: lookup_attribute(sources, name) for name in names}


class SynchAttrsCheck(HealthCheck):
    """``synch_attrs``: a resolved ``{name: value}`` mapping (or a bare list of names,
    which can only be checked once the composer has resolved them)."""

    key = "synch_attrs"

    def targets(self, value: Any, *, address: str) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, (list, tuple)):
            value = {str(n): None for n in value}
        if not isinstance(value, Mapping):
            raise ValueError(f"must be a list of attribute names, got {type(value).__name__}")
        return [{"attribute": str(name), "available": val is not None}
                for name, val in value.items()]

    def describe(self, target: Any) -> str:
        return str(target["attribute"])

    async def probe(self, address: str, target: Any, timeout: float, state: Any) -> str:
        if not target["available"]:
            raise ProbeFailed(f"attribute {target['attribute']!r} has no value yet")
        return "available"
