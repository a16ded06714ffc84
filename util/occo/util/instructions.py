"""The instructions a maintenance pass emits and the infrastructure processor executes.

They cross the ``infraprocessor`` endpoint as JSON (``to_dict`` / ``instruction_from_dict``).
A ``CreateNode`` carries everything the processor needs without reading the description:
the node (its dict form from the compiled description), the implementation chosen for this
instance, and the node types it waits for. A ``RunScope``, sent first, carries what the
run needs of the description for every node type, also those of instances a previous run
left behind: the infrastructure's name and owner, each node's part of the service
composer's request (its dependencies, attribute mappings, variables and attributes) and
the node types it waits for. So a run never reads the description back from the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from occo.util.compiled import CompiledDescription
from occo.util.instance_request import RequestBuilder

__all__ = ["CreateInfrastructure", "CreateNode", "DropNode", "DropInfrastructure",
           "Instruction", "RunScope", "instruction_from_dict"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunScope:
    """What a run needs of the compiled description besides its CreateNodes: built once
    by the enactor (:meth:`of`) and sent as the first instruction.

    ``nodes``: per node type, its part of the service composer's request
    (``RequestBuilder.node``: the node without its implementations, its direct and
    indirect dependencies, its mappings). ``waits_for``: per node type, the node types it
    waits for directly."""

    infra_id: str
    infra_name: str = ""
    user_id: str | None = None
    nodes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    waits_for: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kind: str = field(default="run_scope", init=False)

    @classmethod
    def of(cls, description: CompiledDescription, infra_id: str) -> RunScope:
        """The scope of a run of ``description`` (the compiled description)."""
        builder = RequestBuilder(description, infra_id)
        names = description.node_names
        return cls(infra_id=infra_id, infra_name=description.infra_name,
                   user_id=description.user_id,
                   nodes={name: builder.node(name) for name in names},
                   waits_for={name: description.dependencies_of(name) for name in names})

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "infra_id": self.infra_id, "infra_name": self.infra_name,
                "user_id": self.user_id, "nodes": dict(self.nodes),
                "waits_for": {k: list(v) for k, v in self.waits_for.items()}}


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


Instruction = RunScope | CreateInfrastructure | CreateNode | DropNode | DropInfrastructure

_KINDS = {cls.__dataclass_fields__["kind"].default: cls
          for cls in (RunScope, CreateInfrastructure, CreateNode, DropNode, DropInfrastructure)}


def instruction_from_dict(data: Mapping[str, Any]) -> Instruction:
    cls = _KINDS.get(str(data.get("kind")))
    if cls is None:
        raise ValueError(f"unknown instruction kind {data.get('kind')!r}")
    values = {k: v for k, v in data.items() if k != "kind"}
    if cls is CreateNode:
        values["waits_for"] = tuple(values.get("waits_for", ()))
    elif cls is RunScope:
        values["waits_for"] = {k: tuple(v) for k, v in (values.get("waits_for") or {}).items()}
    return cls(**values)
