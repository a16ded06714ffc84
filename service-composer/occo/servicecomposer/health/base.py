"""The health check plugin interface and the plain data a health round works on.

A health check is a plugin in the entry point group ``occo.healthcheck``; its entry
point name is the ``health_check`` key it handles (``ping``, ``ports``, ``urls``,
``mysqldbs`` are built in). Running a round has two steps:

1. *planning* (:meth:`HealthCheck.targets`): the rendered section value becomes a list
   of JSON-able targets, checked for mistakes (a port that is not a number is an
   :class:`~occo.servicecomposer.errors.HealthCheckError`); a check that cannot run on
   this host says so here (:meth:`HealthCheck.ensure_available`);
2. *probing* (:meth:`HealthCheck.probe`), concurrently across many nodes, each probe
   with its own timeout.

Only results come back: the start-up grace period and ``health_check.timeout`` (how long
a node may stay unhealthy) are the caller's to apply.
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from occo.util import HEALTH_CHECK_GROUP

__all__ = ["CheckStatus", "CheckResult", "HealthReport", "PlannedCheck", "HealthPlan",
           "HealthCheck", "ProbeFailed", "HealthConfig", "HEALTH_CHECK_GROUP", "RESERVED_KEYS"]

#: keys of a health_check section that are settings for the caller, not checks
RESERVED_KEYS = frozenset({"timeout", "type"})

T = TypeVar("T")


class CheckStatus(enum.StrEnum):
    """The outcome of one probe."""

    OK = "ok"
    FAILED = "failed"            # the node did not answer as it should
    UNAVAILABLE = "unavailable"  # the check could not be run from here


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One probe's result; ``target`` and ``detail`` never hold secrets."""

    kind: str
    target: str
    status: CheckStatus
    detail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is CheckStatus.OK

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "status": str(self.status),
                "detail": self.detail, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(kind=data["kind"], target=data["target"], status=CheckStatus(data["status"]),
                   detail=data.get("detail", ""), seconds=float(data.get("seconds", 0.0)))


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthReport:
    """The results of one node instance's checks in one round."""

    instance_id: str
    address: str
    checks: tuple[CheckResult, ...] = ()

    @property
    def healthy(self) -> bool:
        """Every check passed (a node with no checks is healthy)."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        """One line for events: ``healthy`` or what failed."""
        if self.healthy:
            return f"healthy ({len(self.checks)} checks)"
        return "; ".join(f"{c.kind} {c.target}: {c.status}: {c.detail}" for c in self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "address": self.address,
                "healthy": self.healthy, "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HealthReport:
        return cls(instance_id=data["instance_id"], address=data["address"],
                   checks=tuple(CheckResult.from_dict(c) for c in data.get("checks", ())))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedCheck:
    """One probe to make: the check's key, its JSON-able target, its own timeout."""

    kind: str
    target: Any
    timeout: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "timeout": self.timeout}


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthPlan:
    """The probes of one node instance. JSON-able; may hold a rendered database password
    (mysqldbs), so it is handed to the checker and never stored or logged."""

    instance_id: str
    address: str
    node: str = ""
    checks: tuple[PlannedCheck, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "address": self.address, "node": self.node,
                "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HealthPlan:
        return cls(instance_id=data["instance_id"], address=data["address"],
                   node=data.get("node", ""),
                   checks=tuple(PlannedCheck(kind=c["kind"], target=c["target"],
                                             timeout=float(c["timeout"]))
                                for c in data.get("checks", ())))


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthConfig:
    """How health rounds run.

    ``timeouts``: seconds per probe by check key (``default_timeout`` for the others);
    ``max_concurrency``: probes in flight at once (each holds a socket);
    ``blocking_workers``: threads for checks whose client library blocks (mysqldbs);
    ``verify_tls``: whether ``https`` URLs must have a valid certificate.
    """

    timeouts: Mapping[str, float] = field(default_factory=lambda: {
        "ping": 2.0, "ports": 2.0, "urls": 5.0, "mysqldbs": 5.0})
    default_timeout: float = 5.0
    max_concurrency: int = 256
    blocking_workers: int = 32
    verify_tls: bool = True

    def timeout_for(self, kind: str) -> float:
        return float(self.timeouts.get(kind, self.default_timeout))


class ProbeFailed(Exception):
    """Raised by a probe: the node answered wrongly or not at all; the text says how."""


class HealthCheck(ABC):
    """Base of health check plugins. Subclasses set ``key`` and implement the two steps.

    One instance serves every node and round; it must be safe to use concurrently.
    """

    key: ClassVar[str] = ""

    def __init__(self, config: HealthConfig | None = None) -> None:
        self.config = config or HealthConfig()
        self._executor: Executor | None = None

    def bind_executor(self, executor: Executor) -> None:
        """The thread pool :meth:`run_blocking` uses (set by the checker)."""
        self._executor = executor

    def ensure_available(self) -> None:
        """Raise :class:`HealthCheckUnavailableError` if this check cannot run here."""

    @abstractmethod
    def targets(self, value: Any, *, address: str) -> list[Any]:
        """The JSON-able targets the rendered ``value`` asks for; ``[]`` means nothing to
        check. Raise ``ValueError`` with a message for a wrong value (it is located by
        the caller)."""

    def describe(self, target: Any) -> str:
        """``target`` for results and events; must not show secrets."""
        return str(target)

    async def open_round(self) -> Any:
        """State shared by this check's probes in one round (a connection pool, ...)."""
        return None

    async def close_round(self, state: Any) -> None:
        """Release what :meth:`open_round` made."""

    @abstractmethod
    async def probe(self, address: str, target: Any, timeout: float, state: Any) -> str:
        """Check ``target`` of the node at ``address``. Return a short detail on success,
        raise :class:`ProbeFailed` (or any error) on failure. The caller also enforces
        ``timeout`` around the call. ``state`` is what :meth:`open_round` returned."""

    async def run_blocking(self, func: Callable[..., T], *args: Any) -> T:
        """Run a blocking call in the checker's bounded thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, func, *args)
