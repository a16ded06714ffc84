"""The instructions a maintenance pass emits and the infrastructure processor executes.

They cross the ``infraprocessor`` endpoint as JSON (``to_dict`` / ``instruction_from_dict``).
A ``CreateNode`` carries everything the processor needs without reading the description:
the node (its dict form from the compiled description), the implementation chosen for this
instance, and the node types it waits for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CreateInfrastructure", "CreateNode", "DropNode", "DropInfrastructure",
           "Instruction", "instruction_from_dict"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateInfrastructure:
    infra_id: str
    kind: str = field(default="create_infrastructure", init=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateNode:
    """Create one instance of ``node`` with ``implementation``, once ``waits_for`` are ready."""

    infra_id: str
    instance_id: str
    node: Mapping[str, Any]
    implementation: Mapping[str, Any]
    waits_for: tuple[str, ...] = ()
    reason: str = ""
    kind: str = field(default="create_node", init=False)

    @property
    def node_name(self) -> str:
        return str(self.node["name"])

    def to_dict(self) -> dict[str, Any]:
        # shallow: node and implementation are shared by thousands of instructions
        return {"kind": self.kind, "infra_id": self.infra_id, "instance_id": self.instance_id,
                "node": self.node, "implementation": self.implementation,
                "waits_for": list(self.waits_for), "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class DropNode:
    """Drop one instance. ``ref`` is given for a resource the store does not know (an
    orphan found by a drift check): the cloud handler's reference to drop it by."""

    infra_id: str
    instance_id: str
    node_name: str
    reason: str = ""
    ref: Mapping[str, Any] | None = None
    kind: str = field(default="drop_node", init=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class DropInfrastructure:
    infra_id: str
    kind: str = field(default="drop_infrastructure", init=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Instruction = CreateInfrastructure | CreateNode | DropNode | DropInfrastructure

_KINDS = {cls.__dataclass_fields__["kind"].default: cls
          for cls in (CreateInfrastructure, CreateNode, DropNode, DropInfrastructure)}


def instruction_from_dict(data: Mapping[str, Any]) -> Instruction:
    cls = _KINDS.get(str(data.get("kind")))
    if cls is None:
        raise ValueError(f"unknown instruction kind {data.get('kind')!r}")
    values = {k: v for k, v in data.items() if k != "kind"}
    if cls is CreateNode:
        values["waits_for"] = tuple(values.get("waits_for", ()))
    return cls(**values)
