"""One execution of a batch of instructions for one infrastructure.

A single scheduler thread owns all state; cloud and service composer calls run on their
endpoints' workers and report back through a queue. Each round: take finished calls,
admit what may start (dependencies ready, room on the endpoint, tokens in its bucket),
write the round's intents, then make the calls those intents allow. There is no barrier
between topological levels: an instance starts as soon as every node type it waits for
has all of its instances of this run ready.

Slots are indexed by phase and polls kept in a heap, so a round costs what changed in it,
not the size of the infrastructure.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from functools import partial
from typing import Any

from occo.infobroker import InstanceRecord, InstanceState, Intent, Store, StoreGone
from occo.util import (
    CloudLimits,
    CreateInfrastructure,
    CreateNode,
    DropInfrastructure,
    DropNode,
    InfraStatus,
    Instruction,
    RequestBuilder,
    RunScope,
    TokenBucket,
    endpoint_key,
    new_id,
    scaling_secret,
    waits_on_attributes,
)
from occo.util.comm import (
    Client,
    cloud_client,
    encode_error,
)
from occo.util.comm import (
    CloudHandlerEndpoint as Cloud,
)
from occo.util.comm import (
    ServiceComposerEndpoint as Composer,
)

from ._builtfrom import with_built_from, without
from ._calls import CallPipeline, results_of
from ._cancel import CancelWatch
from ._ledger import Ledger
from ._pace import EndpointPace
from ._progress import NodeProgress
from ._slots import Phase, Slot, SlotTable
from ._timing import DueQueue, StartLatency, poll_gap
from .config import ProcessingConfig

log = logging.getLogger(__name__)
ABANDON_WAIT = 30.0   # seconds to wait for creates in flight, then for their drops

BAD_STATES = {"failed", "terminated", "stopped", "stopping", "missing"}
WATCH_TIMEOUT = 1.0   # seconds one watch_states call waits for a change


class Run:
    """Executes instructions for ``infra_id`` until every slot is final."""

    def __init__(self, *, store: Store, cloud: Client, composer: Client,
                 config: ProcessingConfig, infra_id: str, keep_on_failure: bool,
                 cancel: threading.Event, buckets: dict[str, TokenBucket],
                 rng: random.Random, limits: dict[str, CloudLimits] | None = None,
                 watches: dict[str, bool] | None = None) -> None:
        self.store, self.cloud, self.composer = store, cloud, composer
        self.config = config
        self.infra_id = infra_id
        self.keep_on_failure = keep_on_failure
        self.cancel = cancel
        self.pace = EndpointPace(config, self._ask_limits, limits=limits, watches=watches,
                                 buckets=buckets)
        self.watching: set[str] = set()                      # endpoints with a watch out
        self.watch_after: dict[str, float] = {}              # a failed watch waits until then
        self.rng = rng
        self.ledger = Ledger(store, infra_id)
        self.table = SlotTable()                             # every slot of this run
        self.calls = CallPipeline()                          # calls out, and their reports
        self.polling: set[str] = set()                       # endpoints with a state call out
        self.parked: dict[str, list[Slot]] = defaultdict(list)  # due while that call is out
        self.start_latency = StartLatency()                  # learned per endpoint
        self.polls: DueQueue[Slot] = DueQueue()              # when to look at a slot again
        self.backoffs: DueQueue[Slot] = DueQueue()           # slots waiting out a backoff
        self.progress = NodeProgress()                       # pending and ready per node
        self.more_to_admit = False
        self.unrecorded: list[Slot] = []                     # waiting slots without a record
        newest = store.last_event(infra_id)
        self.cancel_watch = CancelWatch(store, infra_id, after=newest.position if newest else 0,
                                        clock=self._now)
        self.ledger.appended = self.cancel_watch.own
        self.stopping: InfraStatus | None = None             # FAILED / CANCELLED
        self.failures: list[dict[str, Any]] = []
        self.drop_failures: list[dict[str, Any]] = []
        self.counts = {"created": 0, "ready": 0, "dropped": 0, "replaced": 0}
        self.drop_infra = False
        self.scope = RunScope(infra_id=infra_id)              # what it needs of the description
        self.requests = RequestBuilder({}, infra_id)

    #: the scheduler's clock (monotonic seconds); only the run's loop and its parts read it
    _now = staticmethod(time.monotonic)

    # ----------------------------------------------------------------- phases

    def _move(self, slot: Slot, phase: Phase) -> None:
        self.table.move(slot, phase)

    def _add(self, slot: Slot) -> None:
        self.table.add(slot)   # replacing one tracked (a drop instruction for it)
        if slot.endpoint not in self.pace.resources:
            self.pace.note(slot.endpoint, slot.implementation.get("resource")
                           or (slot.ref or {}).get("resource") or {})

    def _known(self, instance_id: str) -> Slot | None:
        return self.table.get(instance_id)

    # ----------------------------------------------------------------- setting up

    def start(self, instructions: Iterable[Instruction]) -> None:
        """Take the run's instructions; the description is never read from the store: a
        ``RunScope`` among them says what the run needs of it."""
        instructions = list(instructions)
        for ins in instructions:
            if isinstance(ins, RunScope):
                self.scope = ins
        self.requests = RequestBuilder.from_scope(
            self.scope, scaling_secret=scaling_secret(self.store, self.infra_id))
        records = {r.instance_id: r for r in self.store.list_instances(self.infra_id)}
        for rec in records.values():
            if rec.state == InstanceState.READY and rec.intent == Intent.CREATED:
                self.progress.ready_before(rec.node_name)
        self._resume(records.values())
        for ins in instructions:
            if isinstance(ins, CreateInfrastructure):
                self.ledger.event("infra.building")
            elif isinstance(ins, CreateNode) and self._known(ins.instance_id) is None \
                    and ins.instance_id not in records:  # not made (or begun) already
                self._add_create(ins)
            elif isinstance(ins, DropNode) and ins.instance_id in records:
                known = self._known(ins.instance_id)
                if known is None or known.phase not in (Phase.DROP_QUEUED, Phase.DROPPING):
                    self._add_drop(records[ins.instance_id], ins.reason)
            elif isinstance(ins, DropNode) and ins.ref and self._known(ins.instance_id) is None:
                self._add(Slot(instance_id=ins.instance_id, node_name=ins.node_name,
                               endpoint=endpoint_key(ins.ref.get("resource") or ins.ref),
                               phase=Phase.DROP_QUEUED, ref=dict(ins.ref), reason=ins.reason,
                               new=False, touched=True))  # an orphan: no record to change
            elif isinstance(ins, DropInfrastructure):
                self.drop_infra = True
                self.ledger.event("infra.destroying")
                for rec in records.values():
                    known = self._known(rec.instance_id)
                    if known is None or known.phase not in (Phase.DROP_QUEUED,):
                        self._add_drop(rec, "infrastructure destroyed")
        self.ledger.flush()

    def _node(self, name: str) -> Mapping[str, Any]:
        return self.requests.node(name)

    def _waits_for(self, name: str) -> tuple[str, ...]:
        return tuple(self.scope.waits_for.get(name, ()))

    def _slot_for(self, rec: InstanceRecord, phase: Phase, reason: str) -> Slot:
        resource = (rec.implementation or {}).get("resource", {})
        return Slot(instance_id=rec.instance_id, node_name=rec.node_name,
                    endpoint=endpoint_key(resource), phase=phase,
                    node=self._node(rec.node_name),
                    implementation=without(rec.implementation or {}),
                    waits_for=self._waits_for(rec.node_name), reason=reason,
                    attempt=rec.attempts or 1, ref=rec.resource, recorded=True, touched=True,
                    announced=True)

    def _resume(self, records: Iterable[InstanceRecord]) -> None:
        """Adopt the work a previous, interrupted run left in the store."""
        resumed = 0
        for rec in records:
            if rec.intent == Intent.DROPPING or (rec.intent == Intent.CREATING
                                                 and rec.state == InstanceState.FAILED):
                # a drop, or a failed attempt whose drop, was cut short
                slot = self._slot_for(rec, Phase.DROP_QUEUED, "interrupted drop")
                slot.new = False
            elif rec.intent == Intent.CREATING:
                self.progress.planned(rec.node_name)
                slot = self._slot_for(rec, Phase.STARTING if rec.resource else Phase.WAITING,
                                      "resumed")
                if rec.resource:
                    slot.since = self._now()
                    self._poll_at(slot, slot.since)
            else:
                continue
            self._add(slot)
            resumed += 1
        if resumed:
            self.ledger.event("infra.resumed", instances=resumed)

    def _add_create(self, ins: CreateNode) -> None:
        resource = ins.implementation.get("resource", {})
        self._add(Slot(instance_id=ins.instance_id, node_name=ins.node_name,
                       endpoint=endpoint_key(resource), phase=Phase.WAITING, node=ins.node,
                       implementation=ins.implementation, waits_for=tuple(ins.waits_for),
                       reason=ins.reason))
        self.unrecorded.append(self.table.by_id[ins.instance_id])
        self.progress.planned(ins.node_name)

    def _add_drop(self, rec: InstanceRecord, reason: str) -> None:
        known = self._known(rec.instance_id)
        if known is not None and known.phase in (Phase.WAITING, Phase.STARTING):
            self.progress.withdrawn(known.node_name)
        slot = self._slot_for(rec, Phase.DROP_QUEUED, reason)
        slot.new = False
        self._add(slot)

    # ----------------------------------------------------------------- the loop

    def run(self, instructions: Iterable[Instruction]) -> dict[str, Any]:
        try:
            return self._run(instructions)
        except StoreGone as exc:
            raise StoreGone(f"{exc}. {self._abandon()}", path=exc.path) from None

    def _abandon(self) -> str:
        """The state file is gone, so nothing can be recorded any more: what this run
        created is dropped at its clouds from what the run holds in memory (it would run
        untracked otherwise). Says what was dropped, and what could not be."""
        self.calls.drain(ABANDON_WAIT)   # a create in flight learns its reference first
        made = [s for s in self.table.by_id.values()
                if s.new and (s.touched or s.ref) and s.phase != Phase.DROPPED]
        if not made:
            return "This run had created nothing at the clouds"
        try:
            endpoint = cloud_client(self.cloud, timeout=ABANDON_WAIT)
            results = list(endpoint.drop_nodes(refs=[self._drop_ref(s) for s in made]))
        except Exception as exc:  # noqa: BLE001 - said in the message
            results = [{"error": encode_error(exc)}] * len(made)
        kept = [s.instance_id for s, r in zip(made, results) if "error" in r]
        log.warning("the state of %s is gone: dropped %d node(s) this run created, %d left",
                    self.infra_id, len(made) - len(kept), len(kept))
        said = f"The {len(made) - len(kept)} node(s) this run had created were dropped"
        if kept:
            said += (f"; {len(kept)} could not be and run untracked at their clouds "
                     f"(instances {', '.join(kept)}): drop them there by their tags")
        return said

    def _run(self, instructions: Iterable[Instruction]) -> dict[str, Any]:
        self.start(instructions)
        while True:
            self.calls.take(self._next_wake())
            if not self.stopping and (self.cancel.is_set() or self.cancel_watch.requested()):
                self._stop(InfraStatus.CANCELLED, "cancelled by the user")
            self._end_backoffs()
            if self.table.active == 0 and self._calls_out() == 0:
                break
            self._admit_creates()
            self._admit_drops()
            self._record_waiting()
            self.ledger.flush()          # intents are written before the calls below
            self._dispatch()
            self._poll()
            self._watch()
            self._check_stall()
        return self._finish()

    def _calls_out(self) -> int:
        """Calls not reported back, but watches: one still waiting does not hold the run."""
        return self.calls.outstanding - len(self.watching)


    def _next_wake(self) -> float:
        if self.table.in_phase(Phase.RECORDING) or self.table.in_phase(Phase.DROP_RECORDING) or \
                self.more_to_admit or (not self.stopping and (self.progress.changed
                                                               or self.unrecorded)):
            return 0.0  # creates to admit now (the first round, or dependencies became ready)
        wake = 1.0  # the cancel check's cadence
        for queue_ in (self.polls, self.backoffs):
            due = queue_.next_at()
            if due is not None:
                wake = min(wake, due - self._now())
        return max(0.0, wake)

    def _submit(self, client: Client, method: Callable[..., Any],
                handler: Callable[[Future[Any]], None], **params: Any) -> None:
        self.calls.submit(client, method, handler, **params)

    def _end_backoffs(self) -> None:
        """Slots whose backoff has passed go back into their phase's queue."""
        now = self._now()
        for when, slot in self.backoffs.pop_due(now):
            if slot.not_before == when and slot.phase in (Phase.QUEUED, Phase.DROP_QUEUED):
                self.table.show(slot)

    def _check_stall(self) -> None:
        """Waiting slots whose dependencies can never become ready fail the run."""
        waiting = self.table.in_phase(Phase.WAITING)
        if not waiting or self._calls_out() or self.stopping or self.backoffs:
            return
        busy = sum(len(self.table.in_phase(p)) for p in (Phase.QUEUED, Phase.RECORDING,
                                                 Phase.CREATING, Phase.STARTING,
                                                 Phase.ADDRESSING, Phase.CHECKING))
        if busy == 0:
            slot = next(iter(waiting.values()))
            missing = self.progress.without_ready(slot.waits_for)
            self.failures.append({"node": slot.node_name, "instance_id": None,
                                  "reason": f"waits for {', '.join(missing)}, which has no "
                                            "ready instance"})
            self._stop(InfraStatus.FAILED, f"node {slot.node_name} waits for {', '.join(missing)}, "
                                 "which has no ready instance")

    # ----------------------------------------------------------------- creating

    def _ask_limits(self, resource: Mapping[str, Any]) -> Any:
        """The cloud handler's limits for an endpoint (for EndpointPace)."""
        return cloud_client(self.cloud, timeout=30).limits(resource=resource)

    def _admit_creates(self) -> None:
        if self.stopping:
            return
        now = self._now()
        if self.progress.take_changed():
            held = self.table.in_phase(Phase.WAITING).values()
            for slot in [s for s in held if self.progress.may_start(s.waits_for)]:
                self._move(slot, Phase.QUEUED)
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
                self._move(slot, Phase.RECORDING)
                slot.since = now
                if not slot.recorded:
                    self._record(slot)
                if not slot.announced:
                    self.ledger.event("node.creating", node_name=slot.node_name,
                                      instance_id=slot.instance_id, reason=slot.reason,
                                      attempt=slot.attempt)
                    slot.announced = True

    def _record(self, slot: Slot) -> None:
        self.ledger.record(instance_id=slot.instance_id, node_name=slot.node_name,
                           implementation=slot.implementation, attempt=slot.attempt)
        slot.recorded = True

    def _record_waiting(self) -> None:
        """Write the intents of instances still waiting for their dependencies, one batch
        per round, while those are being created: admitting them once the dependencies
        are ready then costs no store insert. A record without a create call behind it is
        deleted if the run stops, and resumed as waiting after a crash."""
        if self.stopping or not self.unrecorded or self.table.in_phase(Phase.RECORDING) or \
                self.table.in_phase(Phase.DROP_RECORDING):
            return  # (not in a round whose calls wait for this flush)
        size = min((self.pace.limits(e).batch_size for e in self.pace.resources), default=64)
        batch = self.unrecorded[:size]
        del self.unrecorded[:size]
        for slot in batch:
            if slot.phase == Phase.WAITING and not slot.recorded:
                self._record(slot)

    def _request(self, slot: Slot) -> dict[str, Any]:
        """What the service composer needs to render this instance."""
        return self.requests.request(slot.node_name, slot.instance_id, slot.implementation)

    def _chunks(self, slots: list[Slot], factor: int = 1) -> Iterable[list[Slot]]:
        by_endpoint: dict[str, list[Slot]] = defaultdict(list)
        for slot in slots:
            by_endpoint[slot.endpoint].append(slot)
        for endpoint, group in by_endpoint.items():
            size = self.pace.limits(endpoint).batch_size * factor
            for i in range(0, len(group), size):
                yield group[i:i + size]

    def _dispatch(self) -> None:
        creating = list(self.table.in_phase(Phase.RECORDING).values())
        for slot in creating:
            self._move(slot, Phase.CREATING)
        for chunk in self._chunks(creating):
            self._submit(self.composer, Composer.resolve_many,
                         partial(self._resolved, chunk),
                         requests=[self._request(s) for s in chunk])
        dropping = list(self.table.in_phase(Phase.DROP_RECORDING).values())
        for slot in dropping:
            self._move(slot, Phase.DROPPING)
        for chunk in self._chunks(dropping):
            self._submit(self.cloud, Cloud.drop_nodes, partial(self._dropped, chunk),
                         refs=[self._drop_ref(s) for s in chunk])

    def _resolved(self, chunk: list[Slot], future: Future[Any]) -> None:
        to_create: list[tuple[Slot, dict[str, Any]]] = []
        for slot, result in zip(chunk, results_of(future, len(chunk))):
            if "error" in result:
                self.pace.inflight[slot.endpoint] -= 1
                self._call_failed(slot, result["error"], "preparing the node")
            elif self.stopping:
                self.pace.inflight[slot.endpoint] -= 1
                self._queue_drop(slot, f"rolled back ({self.stopping})")
            else:
                slot.touched = True
                slot.used = result.get("used")
                to_create.append((slot, result["spec"]))
        if to_create:
            slots = [s for s, _ in to_create]
            self._submit(self.cloud, Cloud.create_nodes, partial(self._created, slots),
                         specs=[spec for _, spec in to_create])

    def _created(self, chunk: list[Slot], future: Future[Any]) -> None:
        now = self._now()
        for slot, result in zip(chunk, results_of(future, len(chunk))):
            self.pace.inflight[slot.endpoint] -= 1
            if "error" in result:
                self._call_failed(slot, result["error"], "creating the node")
                continue
            slot.ref = result["ref"]
            slot.retries = 0
            self.counts["created"] += 1
            # created_at: when the cloud took it (a waiting instance's intent is older)
            # what it was built from goes with it: a plan compares it with the description
            self.ledger.change(slot.instance_id, resource=slot.ref,
                               state=InstanceState.STARTING, created_at=time.time(),
                               implementation=with_built_from(
                                   slot.implementation, self._node(slot.node_name), slot.used))
            if self.stopping:
                self._queue_drop(slot, f"rolled back ({self.stopping})")
                continue
            self._move(slot, Phase.STARTING)
            first_poll = self.pace.limits(slot.endpoint).first_poll
            slot.since, slot.poll_gap = now, first_poll
            expected = slot.ref.get("ready_at")
            if isinstance(expected, (int, float)) and not isinstance(expected, bool):
                # the cloud said when it will run: look then (and a little after)
                first = max(0.0, expected - time.time()) + 0.005
            else:
                # nothing starts faster than this endpoint's nodes did: look shortly before
                learned = self.start_latency.get(slot.endpoint)
                first = max(first_poll, 0.8 * learned) if learned else first_poll
            self._poll_at(slot, now + min(first, self.config.create_timeout))

    def _call_failed(self, slot: Slot, error: dict[str, Any], doing: str) -> None:
        """A create-side call failed: retry it, or give up on this instance."""
        message = f"{doing} failed: {error.get('text') or error.get('message')}"
        if error.get("retryable") and slot.retries < self.config.call_retries \
                and not self.stopping:
            delay = self.config.backoff.delay(slot.retries, self.rng)
            slot.retries += 1
            self._move(slot, Phase.QUEUED)
            self._defer(slot, delay)
            log.info("retrying %s of %s in %.2f s: %s", doing, slot.instance_id, delay, message)
            return
        self._fail(slot, message, replaceable=False)

    def _defer(self, slot: Slot, delay: float) -> None:
        """Keep ``slot`` out of its queue until the backoff ``delay`` has passed."""
        slot.not_before = self._now() + delay
        self.table.hide(slot)  # _end_backoffs shows it again
        self.backoffs.push(slot.not_before, slot)

    # ----------------------------------------------------------------- polling

    def _poll(self) -> None:
        now = self._now()
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
            self._submit(self.cloud, Cloud.get_states,
                         partial(self._states, endpoint, slots),
                         refs=[s.ref for s in slots])
        for chunk in self._chunks(checks, factor=4):
            self._submit(self.composer, Composer.check_health, partial(self._checked, chunk),
                         targets=[{"instance_id": s.instance_id, "request": self._request(s),
                                   "addresses": (s.ref or {}).get("addresses", []),
                                   "private_addresses":
                                       (s.ref or {}).get("private_addresses", []),
                                   "simulated": not s.checkable}
                                  for s in chunk])

    def _poll_at(self, slot: Slot, when: float) -> None:
        slot.next_poll = when
        self.polls.push(when, slot)

    def _poll_later(self, slot: Slot, now: float) -> None:
        slot.poll_gap = poll_gap(starting=slot.phase == Phase.STARTING,
                                 watched=bool(self.pace.watches.get(slot.endpoint)),
                                 learned=self.start_latency.get(slot.endpoint),
                                 age=now - slot.since, previous=slot.poll_gap,
                                 limits=self.pace.limits(slot.endpoint))
        self._poll_at(slot, now + slot.poll_gap)

    def _states(self, endpoint: str, chunk: list[Slot], future: Future[Any]) -> None:
        self.polling.discard(endpoint)
        now = self._now()
        for slot in self.parked.pop(endpoint, ()):
            if slot.phase == Phase.STARTING:
                self._poll_at(slot, now)
        try:
            states = future.result()
        except Exception as exc:
            log.warning("state poll of %s failed: %s", endpoint, exc)
            states = {}
        running: list[Slot] = []
        for slot in chunk:
            if slot.phase != Phase.STARTING:
                continue
            if self._cloud_says(slot, states.get(slot.instance_id) or {"state": "unknown"},
                                now, running):
                continue
            if now - slot.since > self.config.create_timeout:
                self._fail(slot, f"not running after {self.config.create_timeout:g} s "
                           "(create timeout)", replaceable=True)
            else:
                self._poll_later(slot, now)
        self._read_addresses(running)

    def _cloud_says(self, slot: Slot, status: Mapping[str, Any], now: float,
                    running: list[Slot]) -> bool:
        """Act on the state the cloud gave for ``slot`` (starting or being checked): a
        start moves it on (into ``running``), a bad state fails it. Whether it acted."""
        state = status.get("state", "unknown")
        slot.cloud_state = state
        if state == "running" and slot.phase == Phase.STARTING:
            self._move(slot, Phase.ADDRESSING)
            running.append(slot)
            self.start_latency.learn(slot.endpoint, now - slot.since)
            return True
        if state in BAD_STATES:
            detail = status.get("detail")
            self._fail(slot, f"the cloud reports the node {state}"
                       + (f": {detail}" if detail else ""), replaceable=True)
            return True
        return False

    def _read_addresses(self, running: list[Slot]) -> None:
        if running:
            self._submit(self.cloud, Cloud.get_addresses, partial(self._addressed, running),
                         refs=[s.ref for s in running])

    # ----------------------------------------------------------------- watching

    def _watch(self) -> None:
        """Where the cloud handler can wait for state changes (a local command's exit, the
        Docker engine's events), one watch_states call per endpoint waits for those of its
        instances that are starting or being health-checked: a start is acted on when it
        happens, and a node that dies while its health check runs fails then, not at the
        health timeout. Polls go on as well, at the poll interval."""
        if self.stopping or not self.pace.watches:
            return
        now = self._now()
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
            self._submit(self.cloud, Cloud.watch_states,
                         partial(self._watched, endpoint, slots, now),
                         refs=[s.ref for s in slots], timeout=WATCH_TIMEOUT,
                         known={s.instance_id: s.cloud_state for s in slots})

    def _watched(self, endpoint: str, chunk: list[Slot], began: float, future: Future[Any]) -> None:
        self.watching.discard(endpoint)
        now = self._now()
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
                self._cloud_says(slot, status, now, running)
        self._read_addresses(running)

    def _addressed(self, chunk: list[Slot], future: Future[Any]) -> None:
        now = self._now()
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
                self._move(slot, Phase.STARTING)
                self._poll_later(slot, now)
                continue
            addresses = list(info.get("addresses") or [])
            private = list(info.get("private_addresses") or [])
            slot.checkable = bool(info.get("checkable", True))
            slot.ref = {**(slot.ref or {}), "addresses": addresses, "private_addresses": private,
                        "checkable": slot.checkable}
            self.ledger.change(slot.instance_id, resource=slot.ref, addresses=addresses,
                               private_addresses=private)
            # a simulated address has nothing to probe, but synch attributes (Occopus's
            # synch mappings) are checked wherever the node runs
            if slot.checkable or waits_on_attributes(self._request(slot)):
                self._move(slot, Phase.CHECKING)
                slot.since, slot.poll_gap = now, 0.0
                self._poll_at(slot, now)
            else:
                self._ready(slot)

    def _checked(self, chunk: list[Slot], future: Future[Any]) -> None:
        now = self._now()
        try:
            results = future.result()
        except Exception as exc:
            if getattr(exc, "exit_code", 1) == 2:  # the check itself is wrong: do not wait
                for slot in chunk:
                    if slot.phase == Phase.CHECKING:
                        self._fail(slot, f"health check: {exc}", replaceable=False)
                return
            log.warning("health check round failed: %s", exc)
            results = {}
        for slot in chunk:
            if slot.phase != Phase.CHECKING:
                continue
            result = results.get(slot.instance_id) or {"healthy": False}
            if (result.get("error") or {}).get("exit_code") == 2:  # the check is wrong
                self._fail(slot, f"health check: {result.get('detail')}", replaceable=False)
            elif result.get("healthy"):
                self._ready(slot)
            elif now - slot.since > self.config.health_timeout:
                self._fail(slot, f"health check did not pass within "
                           f"{self.config.health_timeout:g} s: {result.get('detail', '')}",
                           replaceable=True)
            else:
                self._poll_later(slot, now)

    def _ready(self, slot: Slot) -> None:
        if self.stopping and not self.keep_on_failure:
            self._queue_drop(slot, f"rolled back ({self.stopping})")
            return
        self._move(slot, Phase.READY)
        self.progress.became_ready(slot.node_name)
        self.counts["ready"] += 1
        self.ledger.change(slot.instance_id, state=InstanceState.READY, intent=Intent.CREATED,
                           ready_at=time.time(), failure=None)
        self.ledger.event("node.ready", node_name=slot.node_name, instance_id=slot.instance_id,
                          addresses=(slot.ref or {}).get("addresses", []))

    # ----------------------------------------------------------------- failing

    def _fail(self, slot: Slot, reason: str, *, replaceable: bool) -> None:
        """Give up on this instance; replace it if that may help and budget remains."""
        log.warning("node %s instance %s failed: %s", slot.node_name, slot.instance_id, reason)
        slot.failure = reason
        self.ledger.change(slot.instance_id, state=InstanceState.FAILED,
                           failure={"reason": reason, "since": time.time()})
        self.ledger.event("node.failed", node_name=slot.node_name, instance_id=slot.instance_id,
                          reason=reason, attempt=slot.attempt)
        self._queue_drop(slot, "failed: " + reason)
        if replaceable and slot.attempt < self.config.max_attempts and not self.stopping:
            fresh = Slot(instance_id=new_id(), node_name=slot.node_name, endpoint=slot.endpoint,
                         phase=Phase.QUEUED, node=slot.node, implementation=slot.implementation,
                         waits_for=slot.waits_for, reason=f"replaces {slot.instance_id}",
                         attempt=slot.attempt + 1)
            self._add(fresh)
            self._defer(fresh, self.config.backoff.delay(slot.attempt, self.rng))
            self.counts["replaced"] += 1
            return
        self.progress.withdrawn(slot.node_name)
        self.failures.append({"node": slot.node_name, "instance_id": slot.instance_id,
                              "reason": reason})
        self._stop(InfraStatus.FAILED, f"node {slot.node_name}: {reason}")

    def _stop(self, why: InfraStatus, reason: str) -> None:
        """Start nothing new; roll back what this run made (unless kept)."""
        if self.stopping:
            return
        self.stopping = why
        self.ledger.event("infra.cancelling" if why is InfraStatus.CANCELLED else "infra.failing",
                          reason=reason)
        for slot in list(self.table.in_phases(Phase.WAITING, Phase.QUEUED)):
            self.progress.withdrawn(slot.node_name)
            self._queue_drop(slot, f"not started ({why})")
        for slot in list(self.table.in_phases(Phase.STARTING, Phase.ADDRESSING, Phase.CHECKING)):
            self._queue_drop(slot, f"rolled back ({why})")
        if not self.keep_on_failure:
            for slot in list(self.table.in_phases(Phase.READY)):
                if slot.new:
                    self._queue_drop(slot, f"rolled back ({why})")

    # ----------------------------------------------------------------- dropping

    def _queue_drop(self, slot: Slot, reason: str) -> None:
        if slot.phase in (Phase.DROP_QUEUED, Phase.DROP_RECORDING, Phase.DROPPING,
                          Phase.DROPPED):
            return
        if not slot.recorded:
            self._move(slot, Phase.DROPPED)
            return
        if not slot.touched and not slot.ref:   # never reached the cloud: forget it
            self.ledger.delete(slot.instance_id)
            self._move(slot, Phase.DROPPED)
            return
        slot.reason, slot.retries, slot.not_before = reason, 0, 0.0
        self._move(slot, Phase.DROP_QUEUED)

    def _admit_drops(self) -> None:
        now = self._now()
        for slot in list(self.table.in_phase(Phase.DROP_QUEUED).values()):
            if slot.not_before > now:
                continue
            if not self.pace.has_room(slot.endpoint) or \
                    not self.pace.bucket(slot.endpoint).take(1):
                continue
            self.pace.inflight[slot.endpoint] += 1
            self._move(slot, Phase.DROP_RECORDING)
            if slot.recorded:
                self.ledger.change(slot.instance_id, intent=Intent.DROPPING)
            if slot.retries == 0:
                self.ledger.event("node.dropping", node_name=slot.node_name,
                                  instance_id=slot.instance_id, reason=slot.reason)

    def _drop_ref(self, slot: Slot) -> dict[str, Any]:
        """What the cloud handler needs to drop it, even when no reference came back."""
        return slot.ref or {"instance_id": slot.instance_id, "infra_id": self.infra_id,
                            "resource": dict(slot.implementation.get("resource", {})),
                            "lookup": True}

    def _dropped(self, chunk: list[Slot], future: Future[Any]) -> None:
        for slot, result in zip(chunk, results_of(future, len(chunk))):
            self.pace.inflight[slot.endpoint] -= 1
            if "error" not in result:
                self._move(slot, Phase.DROPPED)
                self.counts["dropped"] += 1
                if slot.recorded:
                    self.ledger.delete(slot.instance_id)
                self.ledger.event("node.dropped", node_name=slot.node_name,
                                  instance_id=slot.instance_id, reason=slot.reason)
                continue
            error = result["error"]
            text = error.get("text") or error.get("message")
            if slot.retries < self.config.drop_retries:
                self._move(slot, Phase.DROP_QUEUED)
                delay = self.config.backoff.delay(slot.retries, self.rng)
                slot.retries += 1
                self._defer(slot, delay)
                continue
            self._move(slot, Phase.DROP_FAILED)
            self.drop_failures.append({"node": slot.node_name, "instance_id": slot.instance_id,
                                       "reason": text})
            if slot.recorded:
                self.ledger.change(slot.instance_id, failure={"reason": f"drop failed: {text}",
                                                              "since": time.time()})
            self.ledger.event("node.drop_failed", node_name=slot.node_name,
                              instance_id=slot.instance_id, reason=text)

    # ----------------------------------------------------------------- the end

    def _finish(self) -> dict[str, Any]:
        if self.drop_infra:
            status = InfraStatus.DESTROY_FAILED if self.drop_failures else InfraStatus.DESTROYED
        elif self.stopping:
            status = self.stopping
        else:
            status = InfraStatus.DEGRADED if self.drop_failures else InfraStatus.READY
        self.ledger.event(f"infra.{status}", failures=self.failures,
                          drop_failures=self.drop_failures, created=self.counts["created"],
                          ready=self.counts["ready"], dropped=self.counts["dropped"],
                          replaced=self.counts["replaced"])
        self.ledger.flush()
        return {"infra_id": self.infra_id, "status": status, "failures": self.failures,
                "drop_failures": self.drop_failures, **self.counts}
