"""Creating instances: admission (dependencies ready, room on the endpoint, tokens in its
bucket), the intents written before any call, rendering by the service composer, the
cloud's create call and what it answered.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any

from occo.infobroker import InstanceState
from occo.util import NodeSpec
from occo.util.comm import CallError, Created, Resolved
from occo.util.comm import CloudHandlerEndpoint as Cloud
from occo.util.comm import ServiceComposerEndpoint as Composer

from ._builtfrom import with_built_from
from ._calls import results_of
from ._part import RunPart
from ._slots import Phase, Slot

if TYPE_CHECKING:
    from ._run import Run

log = logging.getLogger("occo.infraprocessor")

__all__ = ["Creating"]

#: an answer without what it must hold (a composer or cloud handler not keeping the
#: contract): failed, not retried
NO_SPEC = CallError(type="ContractError", text="the service composer answered no spec")
NO_REF = CallError(type="ContractError", text="the cloud handler answered no ref")


def failed_render(error: CallError) -> Resolved:
    return Resolved(error=error)


def failed_create(error: CallError) -> Created:
    return Created(error=error)


class Creating(RunPart):
    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.more_to_admit = False                 # the last wave left some for the next
        self.unrecorded: list[Slot] = []           # waiting slots without a record

    def admit_creates(self) -> None:
        if self.run.stopping:
            return
        now = self.now()
        if self.progress.take_changed():
            held = self.table.in_phase(Phase.WAITING).values()
            for slot in [s for s in held if self.progress.may_start(s.waits_for)]:
                self.table.move(slot, Phase.QUEUED)
        by_endpoint: dict[str, list[Slot]] = defaultdict(list)
        for slot in self.table.in_phase(Phase.QUEUED).values():
            if slot.not_before <= now:
                by_endpoint[slot.endpoint].append(slot)
        self.more_to_admit = False
        for endpoint, waiting in by_endpoint.items():
            granted, more = self.pace.grant(endpoint, len(waiting))
            self.more_to_admit = self.more_to_admit or more
            for slot in waiting[:granted]:
                self.pace.inflight[endpoint] += 1
                self.table.move(slot, Phase.RECORDING)
                slot.since = now
                if not slot.recorded:
                    self.record(slot)
                if not slot.announced:
                    self.ledger.event("node.creating", node_name=slot.node_name,
                                      instance_id=slot.instance_id, reason=slot.reason,
                                      attempt=slot.attempt)
                    slot.announced = True

    def record(self, slot: Slot) -> None:
        self.ledger.record(instance_id=slot.instance_id, node_name=slot.node_name,
                           implementation=slot.implementation, attempt=slot.attempt)
        slot.recorded = True

    def record_waiting(self) -> None:
        """Write the intents of instances still waiting for their dependencies, one batch
        per round, while those are being created: admitting them once the dependencies
        are ready then costs no store insert. A record without a create call behind it is
        deleted if the run stops, and resumed as waiting after a crash."""
        if self.run.stopping or not self.unrecorded or self.table.in_phase(Phase.RECORDING) or \
                self.table.in_phase(Phase.DROP_RECORDING):
            return  # (not in a round whose calls wait for this flush)
        size = min((self.pace.limits(e).batch_size for e in self.pace.resources), default=64)
        batch = self.unrecorded[:size]
        del self.unrecorded[:size]
        for slot in batch:
            if slot.phase == Phase.WAITING and not slot.recorded:
                self.record(slot)

    def dispatch(self) -> None:
        """The round's renders (their intents were just written); each create call
        follows its render."""
        creating = list(self.table.in_phase(Phase.RECORDING).values())
        for slot in creating:
            self.table.move(slot, Phase.CREATING)
        for chunk in self.run.chunks(creating):
            self.run.submit(self.run.composer, Composer.resolve_many,
                            partial(self.resolved, chunk),
                            requests=[self.run.request(s) for s in chunk])

    def resolved(self, chunk: list[Slot], future: Future[Any]) -> None:
        to_create: list[tuple[Slot, NodeSpec]] = []
        for slot, result in zip(chunk, results_of(future, len(chunk), failed_render)):
            if result.error is not None or result.spec is None:
                self.pace.inflight[slot.endpoint] -= 1
                self.call_failed(slot, result.error or NO_SPEC, "preparing the node")
            elif self.run.stopping:
                self.pace.inflight[slot.endpoint] -= 1
                self.run.dropping.queue_drop(slot, f"rolled back ({self.run.stopping})")
            else:
                slot.touched = True
                slot.used = result.used
                to_create.append((slot, result.spec))
        if to_create:
            slots = [s for s, _ in to_create]
            self.run.submit(self.run.cloud, Cloud.create_nodes, partial(self.created, slots),
                         specs=[spec for _, spec in to_create])

    def created(self, chunk: list[Slot], future: Future[Any]) -> None:
        now = self.now()
        for slot, result in zip(chunk, results_of(future, len(chunk), failed_create)):
            self.pace.inflight[slot.endpoint] -= 1
            if result.error is not None or result.ref is None:
                self.call_failed(slot, result.error or NO_REF, "creating the node")
                continue
            slot.ref = result.ref
            slot.retries = 0
            self.counts["created"] += 1
            # created_at: when the cloud took it (a waiting instance's intent is older)
            # what it was built from goes with it: a plan compares it with the description
            self.ledger.change(slot.instance_id, resource=slot.ref,
                               state=InstanceState.STARTING, created_at=time.time(),
                               implementation=with_built_from(
                                   slot.implementation, self.run.node(slot.node_name), slot.used))
            if self.run.stopping:
                self.run.dropping.queue_drop(slot, f"rolled back ({self.run.stopping})")
                continue
            self.table.move(slot, Phase.STARTING)
            first_poll = self.pace.limits(slot.endpoint).first_poll
            slot.since, slot.poll_gap = now, first_poll
            expected = slot.ref.get("ready_at")
            if isinstance(expected, (int, float)) and not isinstance(expected, bool):
                # the cloud said when it will run: look then (and a little after)
                first = max(0.0, expected - time.time()) + 0.005
            else:
                # nothing starts faster than this endpoint's nodes did: look shortly before
                learned = self.run.observing.start_latency.get(slot.endpoint)
                first = max(first_poll, 0.8 * learned) if learned else first_poll
            self.run.observing.poll_at(slot, now + min(first, self.config.create_timeout))

    def call_failed(self, slot: Slot, error: CallError, doing: str) -> None:
        """A create-side call failed: retry it, or give up on this instance."""
        message = f"{doing} failed: {error.said}"
        if error.retryable and slot.retries < self.config.call_retries \
                and not self.run.stopping:
            delay = self.config.backoff.delay(slot.retries, self.run.rng)
            slot.retries += 1
            self.table.move(slot, Phase.QUEUED)
            self.run.defer(slot, delay)
            log.info("retrying %s of %s in %.2f s: %s", doing, slot.instance_id, delay, message)
            return
        self.run.failing.fail(slot, message, replaceable=False)
