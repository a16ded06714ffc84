"""Dropping instances: the ``dropping`` intent first, the cloud's drop call, retries with
backoff, and a failed drop recorded and reported, never ignored. Also what is dropped
when the store is gone (from what the run holds in memory).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from functools import partial
from typing import Any

from occo.infobroker import Intent
from occo.util.comm import CallError, Dropped, cloud_client, encode_error
from occo.util.comm import CloudHandlerEndpoint as Cloud

from ._calls import results_of
from ._part import RunPart
from ._slots import Phase, Slot

log = logging.getLogger("occo.infraprocessor")

__all__ = ["Dropping"]


def failed_drop(error: CallError) -> Dropped:
    return Dropped(error=error)

ABANDON_WAIT = 30.0   # seconds to wait for creates in flight, then for their drops


class Dropping(RunPart):
    def queue_drop(self, slot: Slot, reason: str) -> None:
        if slot.phase in (Phase.DROP_QUEUED, Phase.DROP_RECORDING, Phase.DROPPING,
                          Phase.DROPPED):
            return
        if not slot.recorded:
            self.table.move(slot, Phase.DROPPED)
            return
        if not slot.touched and not slot.ref:   # never reached the cloud: forget it
            self.ledger.delete(slot.instance_id)
            self.table.move(slot, Phase.DROPPED)
            return
        slot.reason, slot.retries, slot.not_before = reason, 0, 0.0
        self.table.move(slot, Phase.DROP_QUEUED)

    def admit_drops(self) -> None:
        now = self.now()
        for slot in list(self.table.in_phase(Phase.DROP_QUEUED).values()):
            if slot.not_before > now:
                continue
            if not self.pace.has_room(slot.endpoint) or \
                    not self.pace.bucket(slot.endpoint).take(1):
                continue
            self.pace.inflight[slot.endpoint] += 1
            self.table.move(slot, Phase.DROP_RECORDING)
            if slot.recorded:
                self.ledger.change(slot.instance_id, intent=Intent.DROPPING)
            if slot.retries == 0:
                self.ledger.event("node.dropping", node_name=slot.node_name,
                                  instance_id=slot.instance_id, reason=slot.reason)

    def dispatch(self) -> None:
        """The drop calls of the round (their ``dropping`` intents were just written)."""
        dropping = list(self.table.in_phase(Phase.DROP_RECORDING).values())
        for slot in dropping:
            self.table.move(slot, Phase.DROPPING)
        for chunk in self.run.chunks(dropping):
            self.run.submit(self.run.cloud, Cloud.drop_nodes, partial(self.dropped, chunk),
                            refs=[self.drop_ref(s) for s in chunk])

    def drop_ref(self, slot: Slot) -> dict[str, Any]:
        """What the cloud handler needs to drop it, even when no reference came back."""
        return slot.ref or {"instance_id": slot.instance_id, "infra_id": self.run.infra_id,
                            "resource": dict(slot.implementation.get("resource", {})),
                            "lookup": True}

    def dropped(self, chunk: list[Slot], future: Future[Any]) -> None:
        for slot, result in zip(chunk, results_of(future, len(chunk), failed_drop)):
            self.pace.inflight[slot.endpoint] -= 1
            if result.error is None:
                self.table.move(slot, Phase.DROPPED)
                self.counts["dropped"] += 1
                if slot.recorded:
                    self.ledger.delete(slot.instance_id)
                self.ledger.event("node.dropped", node_name=slot.node_name,
                                  instance_id=slot.instance_id, reason=slot.reason)
                continue
            text = result.error.said
            if slot.retries < self.config.drop_retries:
                self.table.move(slot, Phase.DROP_QUEUED)
                delay = self.config.backoff.delay(slot.retries, self.run.rng)
                slot.retries += 1
                self.run.defer(slot, delay)
                continue
            self.table.move(slot, Phase.DROP_FAILED)
            self.run.drop_failures.append({"node": slot.node_name,
                                           "instance_id": slot.instance_id, "reason": text})
            if slot.recorded:
                self.ledger.change(slot.instance_id, failure={"reason": f"drop failed: {text}",
                                                              "since": time.time()})
            self.ledger.event("node.drop_failed", node_name=slot.node_name,
                              instance_id=slot.instance_id, reason=text)

    def abandon(self) -> str:
        """The state file is gone, so nothing can be recorded any more: what this run
        created is dropped at its clouds from what the run holds in memory (it would run
        untracked otherwise). Says what was dropped, and what could not be."""
        self.run.calls.drain(ABANDON_WAIT)   # a create in flight learns its reference first
        made = [s for s in self.table.by_id.values()
                if s.new and (s.touched or s.ref) and s.phase != Phase.DROPPED]
        if not made:
            return "This run had created nothing at the clouds"
        try:
            endpoint = cloud_client(self.run.cloud, timeout=ABANDON_WAIT)
            results = list(endpoint.drop_nodes(refs=[self.drop_ref(s) for s in made]))
        except Exception as exc:  # noqa: BLE001 - said in the message
            results = [failed_drop(CallError.from_json(encode_error(exc)))] * len(made)
        kept = [s.instance_id for s, r in zip(made, results) if r.error is not None]
        log.warning("the state of %s is gone: dropped %d node(s) this run created, %d left",
                    self.run.infra_id, len(made) - len(kept), len(kept))
        said = f"The {len(made) - len(kept)} node(s) this run had created were dropped"
        if kept:
            said += (f"; {len(kept)} could not be and run untracked at their clouds "
                     f"(instances {', '.join(kept)}): drop them there by their tags")
        return said
