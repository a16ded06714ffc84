"""When an instance fails (replaced while attempts remain) and when the run stops
(failed or cancelled: nothing new starts and what the run made is rolled back).
"""

from __future__ import annotations

import logging
import time

from occo.infobroker import InstanceState
from occo.util import InfraStatus, new_id

from ._part import RunPart
from ._slots import Phase, Slot

log = logging.getLogger("occo.infraprocessor")

__all__ = ["Failing"]


class Failing(RunPart):
    def fail(self, slot: Slot, reason: str, *, replaceable: bool) -> None:
        """Give up on this instance; replace it if that may help and budget remains."""
        log.warning("node %s instance %s failed: %s", slot.node_name, slot.instance_id, reason)
        slot.failure = reason
        self.ledger.change(slot.instance_id, state=InstanceState.FAILED,
                           failure={"reason": reason, "since": time.time()})
        self.ledger.event("node.failed", node_name=slot.node_name, instance_id=slot.instance_id,
                          reason=reason, attempt=slot.attempt)
        self.run.dropping.queue_drop(slot, "failed: " + reason)
        if replaceable and slot.attempt < self.config.max_attempts and not self.run.stopping:
            fresh = Slot(instance_id=new_id(), node_name=slot.node_name, endpoint=slot.endpoint,
                         phase=Phase.QUEUED, node=slot.node, implementation=slot.implementation,
                         waits_for=slot.waits_for, reason=f"replaces {slot.instance_id}",
                         attempt=slot.attempt + 1)
            self.run.add(fresh)
            self.run.defer(fresh, self.config.backoff.delay(slot.attempt, self.run.rng))
            self.counts["replaced"] += 1
            return
        self.progress.withdrawn(slot.node_name)
        self.run.failures.append({"node": slot.node_name, "instance_id": slot.instance_id,
                                  "reason": reason})
        self.stop(InfraStatus.FAILED, f"node {slot.node_name}: {reason}")

    def stop(self, why: InfraStatus, reason: str) -> None:
        """Start nothing new; roll back what this run made (unless kept)."""
        if self.run.stopping:
            return
        self.run.stopping = why
        self.ledger.event("infra.cancelling" if why is InfraStatus.CANCELLED else "infra.failing",
                          reason=reason)
        for slot in list(self.table.in_phases(Phase.WAITING, Phase.QUEUED)):
            self.progress.withdrawn(slot.node_name)
            self.run.dropping.queue_drop(slot, f"not started ({why})")
        for slot in list(self.table.in_phases(Phase.STARTING, Phase.ADDRESSING, Phase.CHECKING)):
            self.run.dropping.queue_drop(slot, f"rolled back ({why})")
        if not self.run.keep_on_failure:
            for slot in list(self.table.in_phases(Phase.READY)):
                if slot.new:
                    self.run.dropping.queue_drop(slot, f"rolled back ({why})")

    def check_stall(self) -> None:
        """Waiting slots whose dependencies can never become ready fail the run."""
        waiting = self.table.in_phase(Phase.WAITING)
        if not waiting or self.run.calls_out() or self.run.stopping or self.run.backoffs:
            return
        busy = sum(len(self.table.in_phase(p)) for p in (Phase.QUEUED, Phase.RECORDING,
                                                         Phase.CREATING, Phase.STARTING,
                                                         Phase.ADDRESSING, Phase.CHECKING))
        if busy == 0:
            slot = next(iter(waiting.values()))
            missing = self.progress.without_ready(slot.waits_for)
            said = f"waits for {', '.join(missing)}, which has no ready instance"
            self.run.failures.append({"node": slot.node_name, "instance_id": None,
                                      "reason": said})
            self.stop(InfraStatus.FAILED, f"node {slot.node_name} {said}")
