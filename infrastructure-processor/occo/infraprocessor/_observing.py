"""Watching instances come up: the state polls (one call per endpoint at a time), the
cloud handlers' watches, addresses, health checks, and readiness.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any

from occo.infobroker import InstanceState, Intent
from occo.util import (
    waits_on_attributes,
)
from occo.util.comm import UNKNOWN_STATUS, Health, NodeAddresses, NodeStatus, ResourceState
from occo.util.comm import CloudHandlerEndpoint as Cloud
from occo.util.comm import ServiceComposerEndpoint as Composer

from ._part import RunPart
from ._slots import Phase, Slot
from ._timing import DueQueue, StartLatency, poll_gap

if TYPE_CHECKING:
    from ._run import Run

log = logging.getLogger("occo.infraprocessor")

__all__ = ["Observing"]
BAD_STATES = {ResourceState.FAILED, ResourceState.TERMINATED, ResourceState.STOPPED,
              ResourceState.STOPPING, ResourceState.MISSING}
NOT_CHECKED = Health(healthy=False)
WATCH_TIMEOUT = 1.0   # seconds one watch_states call waits for a change


class Observing(RunPart):
    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.polling: set[str] = set()                         # endpoints with a state call out
        self.parked: dict[str, list[Slot]] = defaultdict(list)  # due while that call is out
        self.start_latency = StartLatency()                    # learned per endpoint
        self.polls: DueQueue[Slot] = DueQueue()                # when to look at a slot again
        self.watching: set[str] = set()                        # endpoints with a watch out
        self.watch_after: dict[str, float] = {}                # a failed watch waits until then

    def poll(self) -> None:
        now = self.now()
        due: dict[str, list[Slot]] = defaultdict(list)
        checks: list[Slot] = []
        for when, slot in self.polls.pop_due(now):
            if slot.next_poll != when:
                continue  # superseded
            if slot.phase == Phase.STARTING:
                due[slot.endpoint].append(slot)
            elif slot.phase == Phase.CHECKING:
                checks.append(slot)
        for endpoint, slots in due.items():
            if endpoint in self.polling:   # one state call per endpoint at a time: these
                self.parked[endpoint] += slots  # go out as soon as it returns
                continue
            self.polling.add(endpoint)
            self.run.submit(self.run.cloud, Cloud.get_states,
                         partial(self.states, endpoint, slots),
                         refs=[s.ref for s in slots])
        for chunk in self.run.chunks(checks, factor=4):
            self.run.submit(self.run.composer, Composer.check_health, partial(self.checked, chunk),
                         targets=[{"instance_id": s.instance_id, "request": self.run.request(s),
                                   "addresses": (s.ref or {}).get("addresses", []),
                                   "private_addresses":
                                       (s.ref or {}).get("private_addresses", []),
                                   "simulated": not s.checkable}
                                  for s in chunk])

    def poll_at(self, slot: Slot, when: float) -> None:
        slot.next_poll = when
        self.polls.push(when, slot)

    def poll_later(self, slot: Slot, now: float) -> None:
        slot.poll_gap = poll_gap(starting=slot.phase == Phase.STARTING,
                                 watched=bool(self.pace.watches.get(slot.endpoint)),
                                 learned=self.start_latency.get(slot.endpoint),
                                 age=now - slot.since, previous=slot.poll_gap,
                                 limits=self.pace.limits(slot.endpoint))
        self.poll_at(slot, now + slot.poll_gap)

    def states(self, endpoint: str, chunk: list[Slot], future: Future[Any]) -> None:
        self.polling.discard(endpoint)
        now = self.now()
        for slot in self.parked.pop(endpoint, ()):
            if slot.phase == Phase.STARTING:
                self.poll_at(slot, now)
        states: dict[str, NodeStatus]
        try:
            states = future.result()
        except Exception as exc:
            log.warning("state poll of %s failed: %s", endpoint, exc)
            states = {}
        running: list[Slot] = []
        for slot in chunk:
            if slot.phase != Phase.STARTING:
                continue
            if self.cloud_says(slot, states.get(slot.instance_id) or UNKNOWN_STATUS,
                               now, running):
                continue
            if now - slot.since > self.config.create_timeout:
                self.run.failing.fail(slot, f"not running after {self.config.create_timeout:g} s "
                           "(create timeout)", replaceable=True)
            else:
                self.poll_later(slot, now)
        self.read_addresses(running)

    def cloud_says(self, slot: Slot, status: NodeStatus, now: float,
                   running: list[Slot]) -> bool:
        """Act on the state the cloud gave for ``slot`` (starting or being checked): a
        start moves it on (into ``running``), a bad state fails it. Whether it acted."""
        state = status.state
        slot.cloud_state = state.value
        if state == ResourceState.RUNNING and slot.phase == Phase.STARTING:
            self.table.move(slot, Phase.ADDRESSING)
            running.append(slot)
            self.start_latency.learn(slot.endpoint, now - slot.since)
            return True
        if state in BAD_STATES:
            detail = status.detail
            self.run.failing.fail(slot, f"the cloud reports the node {state.value}"
                                  + (f": {detail}" if detail else ""), replaceable=True)
            return True
        return False

    def read_addresses(self, running: list[Slot]) -> None:
        if running:
            self.run.submit(self.run.cloud, Cloud.get_addresses, partial(self.addressed, running),
                         refs=[s.ref for s in running])

    def watch(self) -> None:
        """Where the cloud handler can wait for state changes (a local command's exit, the
        Docker engine's events), one watch_states call per endpoint waits for those of its
        instances that are starting or being health-checked: a start is acted on when it
        happens, and a node that dies while its health check runs fails then, not at the
        health timeout. Polls go on as well, at the poll interval."""
        if self.run.stopping or not self.pace.watches:
            return
        now = self.now()
        wanted = {e for e, w in self.pace.watches.items()
                  if w and e not in self.watching and self.watch_after.get(e, 0.0) <= now}
        if not wanted:
            return
        chunks: dict[str, list[Slot]] = defaultdict(list)
        for phase in (Phase.STARTING, Phase.CHECKING):
            for slot in self.table.in_phase(phase).values():
                if slot.endpoint in wanted and slot.ref and not slot.ref.get("lookup"):
                    chunks[slot.endpoint].append(slot)
        for endpoint, slots in chunks.items():
            self.watching.add(endpoint)
            self.run.submit(self.run.cloud, Cloud.watch_states,
                         partial(self.watched, endpoint, slots, now),
                         refs=[s.ref for s in slots], timeout=WATCH_TIMEOUT,
                         known={s.instance_id: s.cloud_state for s in slots})

    def watched(self, endpoint: str, chunk: list[Slot], began: float, future: Future[Any]) -> None:
        self.watching.discard(endpoint)
        now = self.now()
        changed: dict[str, NodeStatus]
        try:
            changed = future.result()
        except Exception as exc:
            log.debug("watching the states on %s failed: %s", endpoint, exc)
            changed = {}
        if not changed and now - began < WATCH_TIMEOUT / 2:   # it could not wait: not again
            self.watch_after[endpoint] = now + WATCH_TIMEOUT  # at once (polls go on)
        running: list[Slot] = []
        for slot in chunk:
            status = changed.get(slot.instance_id)
            if status is not None and slot.phase in (Phase.STARTING, Phase.CHECKING):
                self.cloud_says(slot, status, now, running)
        self.read_addresses(running)

    def addressed(self, chunk: list[Slot], future: Future[Any]) -> None:
        now = self.now()
        found: dict[str, NodeAddresses]
        try:
            found = future.result()
        except Exception as exc:
            log.warning("reading addresses failed: %s", exc)
            found = {}
        for slot in chunk:
            if slot.phase != Phase.ADDRESSING:
                continue
            info = found.get(slot.instance_id)
            if info is None:  # ask again next round
                self.table.move(slot, Phase.STARTING)
                self.poll_later(slot, now)
                continue
            addresses = list(info.addresses)
            private = list(info.private_addresses)
            slot.checkable = info.checkable
            slot.ref = {**(slot.ref or {}), "addresses": addresses, "private_addresses": private,
                        "checkable": slot.checkable}
            self.ledger.change(slot.instance_id, resource=slot.ref, addresses=addresses,
                               private_addresses=private)
            # a simulated address has nothing to probe, but synch attributes (Occopus's
            # synch mappings) are checked wherever the node runs
            if slot.checkable or waits_on_attributes(self.run.request(slot)):
                self.table.move(slot, Phase.CHECKING)
                slot.since, slot.poll_gap = now, 0.0
                self.poll_at(slot, now)
            else:
                self.ready(slot)

    def checked(self, chunk: list[Slot], future: Future[Any]) -> None:
        now = self.now()
        results: dict[str, Health]
        try:
            results = future.result()
        except Exception as exc:
            if getattr(exc, "exit_code", 1) == 2:  # the check itself is wrong: do not wait
                for slot in chunk:
                    if slot.phase == Phase.CHECKING:
                        self.run.failing.fail(slot, f"health check: {exc}", replaceable=False)
                return
            log.warning("health check round failed: %s", exc)
            results = {}
        for slot in chunk:
            if slot.phase != Phase.CHECKING:
                continue
            result = results.get(slot.instance_id) or NOT_CHECKED
            if result.error is not None and result.error.exit_code == 2:  # the check is wrong
                self.run.failing.fail(slot, f"health check: {result.detail}",
                                      replaceable=False)
            elif result.healthy:
                self.ready(slot)
            elif now - slot.since > self.config.health_timeout:
                self.run.failing.fail(slot, f"health check did not pass within "
                           f"{self.config.health_timeout:g} s: {result.detail}",
                           replaceable=True)
            else:
                self.poll_later(slot, now)

    def ready(self, slot: Slot) -> None:
        if self.run.stopping and not self.run.keep_on_failure:
            self.run.dropping.queue_drop(slot, f"rolled back ({self.run.stopping})")
            return
        self.table.move(slot, Phase.READY)
        self.progress.became_ready(slot.node_name)
        self.counts["ready"] += 1
        self.ledger.change(slot.instance_id, state=InstanceState.READY, intent=Intent.CREATED,
                           ready_at=time.time(), failure=None)
        self.ledger.event("node.ready", node_name=slot.node_name, instance_id=slot.instance_id,
                          addresses=(slot.ref or {}).get("addresses", []))
