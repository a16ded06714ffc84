"""Upper bounds on instances: per node and per infrastructure.

A description may ask for any number of instances; a typo (``min: 1000000000``) must not
become a build that plans, stores and tries to create a billion virtual machines. The
compiler rejects a node whose ``scaling.min`` or ``scaling.max`` is above
:attr:`InstanceLimits.max_per_node`, and a description whose nodes together may reach more
than :attr:`InstanceLimits.max_per_infrastructure` (the sum of their ``max``: what scaling
can lead to, not only what the first build makes). Scale requests are checked against
the same bounds (:meth:`InstanceLimits.check_count`), so that no count beyond them is
ever queued. The defaults are far above any real infrastructure; the ``instances:``
section of ``occo.yaml`` changes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from occo.util import InputError, Location, location_of

from .errors import InstanceLimitError

__all__ = ["InstanceLimits", "DEFAULT_INSTANCE_LIMITS", "SETTING"]


#: the section of ``occo.yaml`` that sets the limits (named in the messages)
SETTING = "instances"


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceLimits:
    """The most instances one node, and one infrastructure in all, may have."""

    max_per_node: int = 10_000
    max_per_infrastructure: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_per_node", "max_per_infrastructure"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"InstanceLimits.{name} must be an integer >= 1, "
                                 f"got {value!r}")

    def _per_node(self, count: int) -> str:
        return (f"{count} instances exceed the limit of {self.max_per_node} per node "
                f"(setting {SETTING}.max_per_node)")

    def check_node(self, scaling: dict, spath: str, node: str | None) -> list[InputError]:
        """Problems with one node's ``scaling`` mapping (already type-checked)."""
        return [InstanceLimitError(self._per_node(value), node=node,
                                   location=location_of(scaling, key, path=f"{spath}.{key}"))
                for key in ("min", "max")
                if isinstance(value := scaling.get(key), int) and value > self.max_per_node]

    def check_total(self, nodes: Iterable[tuple[str, int]], *,
                    where: Location | None) -> InputError | None:
        """The problem when the nodes' ``(name, max)`` add up to more than the limit."""
        pairs = list(nodes)
        total = sum(most for _, most in pairs)
        if total <= self.max_per_infrastructure:
            return None
        largest = sorted(pairs, key=lambda p: -p[1])[:3]
        named = ", ".join(f"{name}: {most}" for name, most in largest)
        return InstanceLimitError(
            f"the nodes may scale to {total} instances in all ({named}"
            f"{', ...' if len(pairs) > 3 else ''}), more than the limit of "
            f"{self.max_per_infrastructure} per infrastructure "
            f"(setting {SETTING}.max_per_infrastructure)",
            location=where.with_path("nodes") if where else Location(path="nodes"))

    def check_count(self, count: int, *, field: str, node: str,
                    infra_id: str | None = None) -> None:
        """Raise if a scale request's ``field`` names more instances than one node may
        have."""
        if count > self.max_per_node:
            raise InstanceLimitError(self._per_node(count), location=Location(path=field),
                                     node=node, infra_id=infra_id)


DEFAULT_INSTANCE_LIMITS = InstanceLimits()
