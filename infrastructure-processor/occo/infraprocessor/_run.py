"""One execution of a batch of instructions for one infrastructure: the loop.

A single scheduler thread owns all state; cloud and service composer calls run on their
endpoints' workers and report back through a queue. Each round: take finished calls,
admit what may start (dependencies ready, room on the endpoint, tokens in its bucket),
write the round's intents, then make the calls those intents allow. There is no barrier
between topological levels: an instance starts as soon as every node type it waits for
has all of its instances of this run ready.

Slots are indexed by phase and polls kept in a heap, so a round costs what changed in it,
not the size of the infrastructure. The work of a round is done by the run's parts
(docs/engine.rst, "The scheduler's parts"): the intake, creating, observing, failing and
dropping.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from occo.infobroker import Store, StoreGone
from occo.util import CloudLimits, InfraStatus, Instruction, RequestBuilder, RunScope, TokenBucket
from occo.util.comm import Client, cloud_client

from ._calls import CallPipeline
from ._cancel import CancelWatch
from ._creating import Creating
from ._dropping import Dropping
from ._failing import Failing
from ._intake import Intake
from ._ledger import Ledger
from ._observing import Observing
from ._pace import EndpointPace
from ._progress import NodeProgress
from ._slots import Phase, Slot, SlotTable
from ._timing import DueQueue
from .config import ProcessingConfig

__all__ = ["Run"]


class Run:
    """Executes instructions for ``infra_id`` until every slot is final."""

    def __init__(self, *, store: Store, cloud: Client, composer: Client,
                 config: ProcessingConfig, infra_id: str, keep_on_failure: bool,
                 cancel: threading.Event, buckets: dict[str, TokenBucket],
                 rng: random.Random, limits: dict[str, CloudLimits] | None = None,
                 watches: dict[str, bool] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``clock``: the scheduler's clock (monotonic seconds); only the run and its
        parts read it, and a test may move it."""
        self.store, self.cloud, self.composer = store, cloud, composer
        self.now = clock
        self.config = config
        self.infra_id = infra_id
        self.keep_on_failure = keep_on_failure
        self.cancel = cancel
        self.rng = rng
        self.pace = EndpointPace(config, self._ask_limits, limits=limits, watches=watches,
                                 buckets=buckets)
        self.ledger = Ledger(store, infra_id)
        self.table = SlotTable()                             # every slot of this run
        self.calls = CallPipeline()                          # calls out, and their reports
        self.backoffs: DueQueue[Slot] = DueQueue()           # slots waiting out a backoff
        self.progress = NodeProgress()                       # pending and ready per node
        newest = store.last_event(infra_id)
        self.cancel_watch = CancelWatch(store, infra_id, after=newest.position if newest else 0,
                                        clock=self.now)
        self.ledger.appended = self.cancel_watch.own
        self.stopping: InfraStatus | None = None             # FAILED / CANCELLED
        self.failures: list[dict[str, Any]] = []
        self.drop_failures: list[dict[str, Any]] = []
        self.counts = {"created": 0, "ready": 0, "dropped": 0, "replaced": 0}
        self.drop_infra = False
        self.scope = RunScope(infra_id=infra_id)             # what it needs of the description
        self.requests = RequestBuilder(None, infra_id)
        # the parts, each doing one kind of work on the state above
        self.intake = Intake(self)
        self.creating = Creating(self)
        self.observing = Observing(self)
        self.failing = Failing(self)
        self.dropping = Dropping(self)

    def add(self, slot: Slot) -> None:
        self.table.add(slot)   # replacing one tracked (a drop instruction for it)
        if slot.endpoint not in self.pace.resources:
            self.pace.note(slot.endpoint, slot.implementation.get("resource")
                           or (slot.ref or {}).get("resource") or {})

    def node(self, name: str) -> Mapping[str, Any]:
        return self.requests.node(name)

    def run(self, instructions: Iterable[Instruction]) -> dict[str, Any]:
        try:
            return self._run(instructions)
        except StoreGone as exc:
            raise StoreGone(f"{exc}. {self.dropping.abandon()}", path=exc.path) from None

    def _run(self, instructions: Iterable[Instruction]) -> dict[str, Any]:
        self.intake.start(instructions)
        while True:
            self.calls.take(self._next_wake())
            if not self.stopping and (self.cancel.is_set() or self.cancel_watch.requested()):
                self.failing.stop(InfraStatus.CANCELLED, "cancelled by the user")
            self.end_backoffs()
            if self.table.active == 0 and self.calls_out() == 0:
                break
            self.creating.admit_creates()
            self.dropping.admit_drops()
            self.creating.record_waiting()
            self.ledger.flush()          # intents are written before the calls below
            self.creating.dispatch()     # renders, and creates after them
            self.dropping.dispatch()
            self.observing.poll()
            self.observing.watch()
            self.failing.check_stall()
        return self._finish()

    def calls_out(self) -> int:
        """Calls not reported back, but watches: one still waiting does not hold the run."""
        return self.calls.outstanding - len(self.observing.watching)

    def _next_wake(self) -> float:
        if self.table.in_phase(Phase.RECORDING) or self.table.in_phase(Phase.DROP_RECORDING) or \
                self.creating.more_to_admit or (not self.stopping and (self.progress.changed
                                                               or self.creating.unrecorded)):
            return 0.0  # creates to admit now (the first round, or dependencies became ready)
        wake = 1.0  # the cancel check's cadence
        for queue_ in (self.observing.polls, self.backoffs):
            due = queue_.next_at()
            if due is not None:
                wake = min(wake, due - self.now())
        return max(0.0, wake)

    def submit(self, client: Client, method: Callable[..., Any],
                handler: Callable[[Future[Any]], None], **params: Any) -> None:
        self.calls.submit(client, method, handler, **params)

    def end_backoffs(self) -> None:
        """Slots whose backoff has passed go back into their phase's queue."""
        now = self.now()
        for when, slot in self.backoffs.pop_due(now):
            if slot.not_before == when and slot.phase in (Phase.QUEUED, Phase.DROP_QUEUED):
                self.table.show(slot)

    def _ask_limits(self, resource: Mapping[str, Any]) -> Any:
        """The cloud handler's limits for an endpoint (for EndpointPace)."""
        return cloud_client(self.cloud, timeout=30).limits(resource=resource)

    def request(self, slot: Slot) -> dict[str, Any]:
        """What the service composer needs to render this instance."""
        return self.requests.request(slot.node_name, slot.instance_id, slot.implementation)

    def chunks(self, slots: list[Slot], factor: int = 1) -> Iterable[list[Slot]]:
        by_endpoint: dict[str, list[Slot]] = defaultdict(list)
        for slot in slots:
            by_endpoint[slot.endpoint].append(slot)
        for endpoint, group in by_endpoint.items():
            size = self.pace.limits(endpoint).batch_size * factor
            for i in range(0, len(group), size):
                yield group[i:i + size]

    def defer(self, slot: Slot, delay: float) -> None:
        """Keep ``slot`` out of its queue until the backoff ``delay`` has passed."""
        slot.not_before = self.now() + delay
        self.table.hide(slot)  # end_backoffs shows it again
        self.backoffs.push(slot.not_before, slot)

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
