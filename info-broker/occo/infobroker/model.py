"""What the store holds: infrastructures, node instances, scaling requests and events.

Records are frozen dataclasses; a change is made with the store's ``update_*`` methods,
which return the new record with its ``version`` raised by one. Every record has a plain
JSON form (``to_dict`` / ``from_dict``) for the REST API, messages and the store itself.

Dict-valued fields (``description``, ``implementation``, ``resource``, ``failure``,
``details``) are plain JSON-able dicts. Records returned by one ``list_instances`` call may
share one ``implementation`` dict among the instances that chose the same implementation:
treat them as read-only (copy before changing).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from occo.util import InfraStatus

__all__ = [
    "Intent", "InstanceState", "InfraRecord", "InstanceRecord", "ScalingRequest", "Event",
    "SCALING_KINDS", "INFRA_FIELDS", "INSTANCE_FIELDS",
]


class Intent(enum.StrEnum):
    """What OCCO means to do with an instance (recorded before it acts: intent first)."""

    CREATING = "creating"
    CREATED = "created"
    DROPPING = "dropping"


class InstanceState(enum.StrEnum):
    """What an instance is, as far as OCCO knows."""

    PENDING = "pending"        # intent recorded, no cloud resource yet
    STARTING = "starting"      # the cloud accepted it, not yet ready
    READY = "ready"            # running and healthy
    UNHEALTHY = "unhealthy"    # its health check is failing
    FAILED = "failed"          # cloud error, create timeout, process died
    UNKNOWN = "unknown"


SCALING_KINDS = ("create", "destroy", "set")


@dataclass(frozen=True, slots=True, kw_only=True)
class InfraRecord:
    """One infrastructure: its compiled description and where it stands.

    ``status`` is an :class:`~occo.util.InfraStatus` (the store refuses any other);
    ``maintained`` says whether a maintainer is attached.
    """

    infra_id: str
    name: str
    user_id: str | None = None
    description: dict[str, Any] = field(default_factory=dict)
    status: InfraStatus = InfraStatus.BUILDING
    maintained: bool = False
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    version: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.status, InfraStatus):   # its text, as JSON carries it
            object.__setattr__(self, "status", InfraStatus(self.status))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InfraRecord:
        return cls(**{k: data[k] for k in INFRA_FIELDS if k in data})


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRecord:
    """One node instance: what was chosen for it, where it is, what state it is in.

    ``resource`` is the cloud handler's reference to the resource (``None`` until the
    cloud accepted it); ``failure`` describes the last failure (``reason``, ``since``,
    ``exit_code``, ...) or is ``None``; ``attempts`` counts create attempts.
    ``updated_at`` is when the record was last written; ``checked_at`` when a maintenance
    pass last observed the instance at its cloud (and its health check) and found the
    state recorded, changed or not (``None`` until one has; records stored before the
    field existed read as ``None``).
    """

    instance_id: str
    infra_id: str
    node_name: str
    implementation: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] | None = None
    state: InstanceState = InstanceState.PENDING
    intent: Intent = Intent.CREATING
    addresses: list[str] = field(default_factory=list)
    private_addresses: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    ready_at: float | None = None
    failure: dict[str, Any] | None = None
    attempts: int = 1
    checked_at: float | None = None
    version: int = 1

    @property
    def address(self) -> str | None:
        """The first public address, else the first private one, else ``None``."""
        if self.addresses:
            return self.addresses[0]
        return self.private_addresses[0] if self.private_addresses else None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["state"] = str(self.state)
        out["intent"] = str(self.intent)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstanceRecord:
        values = {k: data[k] for k in INSTANCE_FIELDS if k in data}
        if "state" in values:
            values["state"] = InstanceState(values["state"])
        if "intent" in values:
            values["intent"] = Intent(values["intent"])
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalingRequest:
    """A queued request to change the number of instances of one node.

    ``create`` adds ``count``; ``destroy`` removes ``count`` (the youngest), or the one
    instance named by ``instance_id`` or ``address``; ``set`` sets the target to ``count``.
    The enactor applies them in order on its next pass.
    """

    infra_id: str
    node_name: str
    kind: str
    count: int = 1
    instance_id: str | None = None
    address: str | None = None
    requested_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalingRequest:
        return cls(**{k: data[k] for k in SCALING_FIELDS if k in data})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One entry of an infrastructure's event log.

    ``position`` is assigned by the store when the event is appended: 1, 2, 3, ... per
    infrastructure, so a reader can continue with ``read_events(infra_id, after=last)``.
    ``details`` are redacted (occo.util.redact) before they are stored.
    """

    type: str
    infra_id: str
    node_name: str | None = None
    instance_id: str | None = None
    time: float = field(default_factory=time.time)
    details: dict[str, Any] = field(default_factory=dict)
    position: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        return cls(**{k: data[k] for k in EVENT_FIELDS if k in data})


INFRA_FIELDS = tuple(f.name for f in fields(InfraRecord))
INSTANCE_FIELDS = tuple(f.name for f in fields(InstanceRecord))
SCALING_FIELDS = tuple(f.name for f in fields(ScalingRequest))
EVENT_FIELDS = tuple(f.name for f in fields(Event))
