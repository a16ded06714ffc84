"""A slot is one wanted node instance (or one instance to drop) as the scheduler tracks it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    WAITING = "waiting"      # the node types it depends on are not ready yet
    QUEUED = "queued"        # eligible; waits for room on its endpoint (or for a backoff)
    RECORDING = "recording"  # its intent is written before any cloud call
    CREATING = "creating"    # the service composer and the cloud handler are working on it
    STARTING = "starting"    # the cloud accepted it; its state is polled
    ADDRESSING = "addressing"  # the cloud says running; its addresses are being read
    CHECKING = "checking"    # running; its health check is polled
    READY = "ready"
    DROP_QUEUED = "drop_queued"
    DROP_RECORDING = "drop_recording"  # its dropping intent is written before the call
    DROPPING = "dropping"
    DROPPED = "dropped"
    DROP_FAILED = "drop_failed"


ACTIVE_CREATE = {Phase.WAITING, Phase.QUEUED, Phase.RECORDING, Phase.CREATING, Phase.STARTING,
                 Phase.ADDRESSING, Phase.CHECKING}
FINAL = {Phase.READY, Phase.DROPPED, Phase.DROP_FAILED}


@dataclass(slots=True, eq=False)
class Slot:
    """Mutable scheduling state of one instance; only the scheduler thread touches it."""

    instance_id: str
    node_name: str
    endpoint: str
    phase: Phase
    node: Mapping[str, Any] = field(default_factory=dict)
    implementation: Mapping[str, Any] = field(default_factory=dict)
    waits_for: tuple[str, ...] = ()
    reason: str = ""
    attempt: int = 1            # which instance this is for the wanted node (1 = first try)
    retries: int = 0            # retries of the current cloud call
    not_before: float = 0.0     # backoff: do not start the next call before this
    since: float = 0.0          # when the current phase began
    next_poll: float = 0.0
    poll_gap: float = 0.0
    ref: dict[str, Any] | None = None     # the cloud handler's reference, once known
    recorded: bool = False      # its instance record exists in the store
    announced: bool = False     # its node.creating event is written
    touched: bool = False       # a create call was made (the cloud may hold a resource)
    new: bool = True            # created by this run (rolled back on failure)
    checkable: bool = True      # its address is a real one (health checks make sense)
    cloud_state: str = "pending"  # the state the cloud last gave (what a watch waits to change)
    failure: str = ""
    used: dict[str, Any] | None = None    # what its templates read of other nodes (resolve_many)

    @property
    def creating(self) -> bool:
        return self.phase in ACTIVE_CREATE


class SlotTable:
    """Every slot of one run, indexed by phase, with the count of those not final.

    A slot waiting out a backoff is :meth:`hide`-den from its phase's index (the rounds
    do not see it) and :meth:`show`-n again when the backoff ends; it keeps its phase.
    """

    def __init__(self) -> None:
        self.by_id: dict[str, Slot] = {}
        self._index: dict[Phase, dict[str, Slot]] = {phase: {} for phase in Phase}
        #: slots not in a final phase
        self.active = 0

    def get(self, instance_id: str) -> Slot | None:
        return self.by_id.get(instance_id)

    def add(self, slot: Slot) -> None:
        """Track ``slot``; one already tracked under its instance id is replaced."""
        old = self.by_id.get(slot.instance_id)
        if old is not None:
            self._index[old.phase].pop(old.instance_id, None)
            self.active -= old.phase not in FINAL
        self.by_id[slot.instance_id] = slot
        self._index[slot.phase][slot.instance_id] = slot
        self.active += slot.phase not in FINAL

    def move(self, slot: Slot, phase: Phase) -> None:
        old = slot.phase
        if old == phase:
            return
        self._index[old].pop(slot.instance_id, None)
        self._index[phase][slot.instance_id] = slot
        self.active += (old in FINAL) - (phase in FINAL)
        slot.phase = phase

    def in_phase(self, phase: Phase) -> dict[str, Slot]:
        """The visible slots of ``phase`` by instance id (the live index: copy it to
        change phases while going through it)."""
        return self._index[phase]

    def in_phases(self, *phases: Phase) -> list[Slot]:
        """Slots in these phases, hidden ones (backing off) included."""
        return [s for s in self.by_id.values() if s.phase in phases]

    def hide(self, slot: Slot) -> None:
        self._index[slot.phase].pop(slot.instance_id, None)

    def show(self, slot: Slot) -> None:
        self._index[slot.phase][slot.instance_id] = slot
