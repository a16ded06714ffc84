"""The typed results of the endpoints, each with its one JSON codec.

An endpoint's server answers with a result's JSON form (``to_json``); the typed clients
of :mod:`occo.util.comm.contracts` give the caller the result type (``from_json``), which
the protocols' return annotations name. So a caller reads ``status.state``, never
``status["state"]``, and the keys of each message are written here alone.

Requests are typed where they have a shape of their own: a create takes
:class:`~occo.util.NodeSpec`\\ s; a ref (what a create answers, and what drops, polls and
address reads take) is the cloud handler's own JSON mapping, opaque to every other part
(occo.cloudhandler.base documents what it holds); the service composer's request is the
one :class:`~occo.util.RequestBuilder` builds.

Per-item failures of a batch call (one node's template error, one cloud refusal) are
:class:`CallError`\\ s, the data form of an exception (:func:`occo.util.comm.encode_error`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..nodespec import NodeSpec
from ..secrets import scrub

__all__ = ["CallError", "Created", "Dropped", "Health", "NodeAddresses", "NodeStatus",
           "Resolved", "ResourceState", "UNKNOWN_STATUS", "json_default"]

JSON = dict[str, Any]


class ResourceState(enum.StrEnum):
    """The cloud's view of one node instance, the same for every backend."""

    PENDING = "pending"          # being created / booting
    RUNNING = "running"          # the cloud says it runs (health is checked elsewhere)
    STOPPING = "stopping"        # on its way down (stopping, shutting-down, dropping)
    STOPPED = "stopped"          # exists but does not run
    TERMINATED = "terminated"    # gone for good (dropped)
    FAILED = "failed"            # died or could not start (detail says why)
    MISSING = "missing"          # the cloud does not know it
    UNKNOWN = "unknown"          # the cloud's answer did not tell (or it could not be asked)

    @classmethod
    def of(cls, value: Any) -> ResourceState:
        """The state ``value`` names; a name this release does not know is UNKNOWN."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """What ``get_states`` and ``watch_states`` report for one instance: a state and why."""

    state: ResourceState
    detail: str | None = None      # exit code and log tail, cloud error message, ...
    raw: str | None = None         # the backend's own name for the state
    exit_code: int | None = None   # local processes

    def to_json(self) -> JSON:
        out: JSON = {"state": self.state.value}
        if self.detail is not None:
            out["detail"] = scrub(self.detail)
        if self.raw is not None:
            out["raw"] = self.raw
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NodeStatus:
        detail, raw, code = data.get("detail"), data.get("raw"), data.get("exit_code")
        return cls(ResourceState.of(data.get("state")),
                   detail=None if detail is None else str(detail),
                   raw=None if raw is None else str(raw),
                   exit_code=code if isinstance(code, int) else None)


#: what a poll assumes of an instance the answer left out
UNKNOWN_STATUS = NodeStatus(ResourceState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class NodeAddresses:
    """Where one running instance can be reached (``get_addresses``).

    ``checkable`` is False for simulated addresses (the dummy cloud) that nothing can
    connect to, so health checks are skipped for them. Without private addresses of their
    own, the public ones are given as the private ones too.
    """

    addresses: tuple[str, ...]
    private_addresses: tuple[str, ...] = ()
    checkable: bool = True

    def to_json(self) -> JSON:
        return {"addresses": list(self.addresses),
                "private_addresses": list(self.private_addresses or self.addresses),
                "checkable": self.checkable}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NodeAddresses:
        return cls(tuple(str(a) for a in data.get("addresses") or ()),
                   tuple(str(a) for a in data.get("private_addresses") or ()),
                   bool(data.get("checkable", True)))


@dataclass(frozen=True, slots=True)
class CallError:
    """A failure carried as data: the exception's type name, its message (``text`` is
    the whole of it), whether a retry may help, the CLI exit code and the structured
    fields of ``OccoError.to_dict``. Secrets are scrubbed before it is made."""

    type: str = "Exception"
    message: str = ""
    text: str = ""
    retryable: bool = False
    exit_code: int = 1
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def said(self) -> str:
        """What to tell a person: the whole text, else the message."""
        return self.text or self.message

    def to_json(self) -> JSON:
        return {"type": self.type, "message": self.message, "text": self.text,
                "retryable": self.retryable, "exit_code": self.exit_code,
                "details": dict(self.details)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallError:
        code = data.get("exit_code", 1)
        return cls(type=str(data.get("type", "Exception")), message=str(data.get("message", "")),
                   text=str(data.get("text") or ""), retryable=bool(data.get("retryable")),
                   exit_code=code if isinstance(code, int) else 1,
                   details=dict(data.get("details") or {}))


def _error(data: Mapping[str, Any]) -> CallError | None:
    error = data.get("error")
    return CallError.from_json(error) if isinstance(error, Mapping) else None


@dataclass(frozen=True, slots=True)
class Created:
    """One item of ``create_nodes``: the new resource's ref, or why there is none."""

    ref: JSON | None = None
    error: CallError | None = None

    def to_json(self) -> JSON:
        return {"error": self.error.to_json()} if self.error is not None else {"ref": self.ref}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Created:
        error = _error(data)
        return cls(error=error) if error is not None else cls(ref=dict(data.get("ref") or {}))


@dataclass(frozen=True, slots=True)
class Dropped:
    """One item of ``drop_nodes``: done (also when it was already gone), or why not."""

    error: CallError | None = None

    def to_json(self) -> JSON:
        return {} if self.error is None else {"error": self.error.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dropped:
        return cls(error=_error(data))


@dataclass(frozen=True, slots=True)
class Resolved:
    """One item of ``resolve_many``: the instance's NodeSpec and what its templates read
    of other nodes (``{"getip('db')": "10.0.0.5"}``), or why it could not be rendered."""

    spec: NodeSpec | None = None
    used: JSON = field(default_factory=dict)
    error: CallError | None = None

    def to_json(self) -> JSON:
        if self.error is not None:
            return {"error": self.error.to_json()}
        return {"spec": self.spec.to_dict() if self.spec is not None else None,
                "used": self.used}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Resolved:
        error = _error(data)
        if error is not None:
            return cls(error=error)
        spec = data.get("spec")
        if spec is not None and not isinstance(spec, NodeSpec):
            spec = NodeSpec.from_dict(spec)
        return cls(spec=spec, used=dict(data.get("used") or {}))


@dataclass(frozen=True, slots=True)
class Health:
    """One instance's result of ``check_health``: healthy or not, and what was seen."""

    healthy: bool
    detail: str = ""
    error: CallError | None = None

    def to_json(self) -> JSON:
        out: JSON = {"healthy": self.healthy, "detail": self.detail}
        if self.error is not None:
            out["error"] = self.error.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Health:
        return cls(healthy=bool(data.get("healthy")), detail=str(data.get("detail") or ""),
                   error=_error(data))


def json_default(value: Any) -> Any:
    """The JSON form of a message type (its ``to_json``), for ``json.dumps(default=)``:
    the transports' one codec. Anything else is a TypeError, as json's own."""
    encode = getattr(value, "to_json", None)
    if encode is None:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return encode()
