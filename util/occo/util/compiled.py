"""The read-only view of a compiled description that packages other than the compiler use.

The compiler's ``StaticDescription`` (occo.compiler) is the one implementation: a frozen
model with its nodes, edges and dependency queries. Code that cannot depend on the
compiler (the request builder and the run scope here, which the processor and the
service composer use) reads a description through these protocols, by attribute and
method, never by the keys of its stored plain form; so the plain form's keys are known to
the compiler's model alone (``StaticDescription.to_dict`` / ``from_dict``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["CompiledDescription", "CompiledEdge", "CompiledMapping", "CompiledNode"]


class CompiledMapping(Protocol):
    """An attribute mapping on an edge (occo.compiler.AttributeMapping)."""

    @property
    def synch(self) -> bool: ...

    def occopus_form(self) -> dict[str, Any]:
        """As Occopus gave it to mediating services: ``{attributes: [source, target],
        synch: bool, **extra keys}``."""
        ...


class CompiledEdge(Protocol):
    """``dependent`` waits for ``dependency`` (occo.compiler.Edge)."""

    @property
    def dependent(self) -> str: ...
    @property
    def dependency(self) -> str: ...
    @property
    def mappings(self) -> Sequence[CompiledMapping]: ...


class CompiledNode(Protocol):
    """One node (occo.compiler.Node)."""

    @property
    def name(self) -> str: ...

    def to_dict(self) -> dict[str, Any]:
        """The node's JSON form, as a CreateNode and the composer's request carry it."""
        ...


class CompiledDescription(Protocol):
    """A compiled infrastructure (occo.compiler.StaticDescription)."""

    @property
    def infra_name(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def variables(self) -> Mapping[str, Any]: ...
    @property
    def nodes(self) -> Sequence[CompiledNode]: ...
    @property
    def edges(self) -> Sequence[CompiledEdge]: ...
    @property
    def node_names(self) -> tuple[str, ...]: ...

    def node(self, name: str) -> CompiledNode:
        """The node called ``name`` (KeyError if none)."""
        ...

    def dependencies_of(self, name: str) -> tuple[str, ...]:
        """The nodes ``name`` waits for directly, in the order written."""
        ...
