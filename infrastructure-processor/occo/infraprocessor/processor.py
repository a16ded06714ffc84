"""The infrastructure processor: executes instructions, served as the ``infraprocessor``
endpoint.

It reads and writes state only through the info broker's store, and reaches the cloud
handlers and the service composer only through their ``occo.util.comm`` clients, so each
of them may run in another process or on another machine.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from occo.infobroker import Store, held_lease, holder_name
from occo.util import (
    CloudLimits,
    CreateNode,
    Instruction,
    RunScope,
    TokenBucket,
    instruction_from_dict,
)
from occo.util.comm import Client, ProcessorEndpoint, methods_of

from ._run import Run
from .config import ProcessingConfig
from .errors import InfrastructureBusy

__all__ = ["Processor"]

log = logging.getLogger(__name__)

_ANSWERS_KEPT = 256   # outcomes of recent requests, for a request that arrives again
_COUNTS = ("created", "ready", "dropped", "replaced")


def _whole(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """The outcome of one request run twice: the later status, the work of both."""
    return {**later, **{k: earlier.get(k, 0) + later.get(k, 0) for k in _COUNTS},
            "failures": earlier.get("failures", []) + later.get("failures", []),
            "drop_failures": earlier.get("drop_failures", []) + later.get("drop_failures",
                                                                          [])}


class Processor:
    """Executes build, scale, heal and destroy instructions, one infrastructure at a time.

    ``execute`` blocks until every instruction is done (or given up on and rolled back),
    and returns a JSON-able summary. A second ``execute`` of an infrastructure already
    running here waits for the first (at most ``wait`` seconds; None: as long as it runs).
    Token buckets and limits are kept per cloud endpoint
    across calls, so the rate limit holds for the whole process, not per build.
    """

    RPC_METHODS = methods_of(ProcessorEndpoint)

    def __init__(self, store: Store, *, cloud: Client, composer: Client,
                 config: ProcessingConfig | None = None, seed: int | None = None,
                 wait: float | None = None) -> None:
        self.store = store
        self.cloud = cloud
        self.composer = composer
        self.config = config or ProcessingConfig()
        self._buckets: dict[str, TokenBucket] = {}
        self._limits: dict[str, CloudLimits] = {}   # per endpoint, as its cloud handler says
        self._watches: dict[str, bool] = {}         # per endpoint: its cloud handler watches
        self._rng = random.Random(seed)
        self._cancels: dict[str, threading.Event] = {}
        self._busy: set[str] = set()
        self._answered: OrderedDict[str, dict[str, Any]] = OrderedDict()  # request id -> outcome
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.wait = wait
        self.holder = holder_name()

    def execute(self, infra_id: str, instructions: Iterable[Mapping[str, Any] | Instruction],
                keep_on_failure: bool = False, request_id: str | None = None) -> dict[str, Any]:
        """Carry out ``instructions`` for one infrastructure; return what happened.

        ``request_id`` names the request: the same request again (a message redelivered
        after a lost connection, or sent again by a client that reconnected) resumes what
        is left and answers for the whole request, the earlier run's work included, not
        only for what was left to do.
        """
        parsed = [i if not isinstance(i, Mapping) else instruction_from_dict(i)
                  for i in instructions]
        _check_scope(parsed)
        with self._idle:
            # A request for an infrastructure this process is already working on (a
            # message redelivered after a lost connection) waits for that run to end and
            # then resumes whatever is left: the store says what that is.
            if not self._idle.wait_for(lambda: infra_id not in self._busy, timeout=self.wait):
                raise InfrastructureBusy(f"infrastructure {infra_id} is already being processed "
                                         "here", infra_id=infra_id)
            self._busy.add(infra_id)
            cancel = self._cancels.setdefault(infra_id, threading.Event())
            cancel.clear()
            earlier = self._answered.get(request_id) if request_id else None
        try:
            # one processor per infrastructure across all workers: a request redelivered
            # to another worker waits for the first one's lease to end (or to expire)
            ttl = self.config.lease_ttl
            with held_lease(self.store, f"process:{infra_id}", self.holder, ttl, wait=ttl + 5,
                            what=f"processing of infrastructure {infra_id}",
                            infra_id=infra_id):
                run = Run(store=self.store, cloud=self.cloud, composer=self.composer,
                          config=self.config, infra_id=infra_id,
                          keep_on_failure=keep_on_failure, cancel=cancel,
                          buckets=self._buckets, rng=self._rng, limits=self._limits,
                          watches=self._watches)
                outcome = run.run(parsed)
            if earlier is not None:
                outcome = _whole(earlier, outcome)
            if request_id:
                with self._lock:
                    self._answered[request_id] = outcome
                    self._answered.move_to_end(request_id)
                    while len(self._answered) > _ANSWERS_KEPT:
                        self._answered.popitem(last=False)
            return outcome
        finally:
            with self._idle:
                self._busy.discard(infra_id)
                self._idle.notify_all()

    def cancel(self, infra_id: str) -> bool:
        """Ask a running ``execute`` to start nothing new and roll back; True if one ran."""
        with self._lock:
            event = self._cancels.get(infra_id)
            running = infra_id in self._busy
        if event is not None:
            event.set()
        return running


def _check_scope(instructions: list[Instruction]) -> None:
    """A CreateNode needs the run's scope to name its node (its dependencies and mappings
    are there, not in the instruction): without it the composer would get a request that
    names no dependency, so the instructions are refused before anything is done."""
    named: set[str] = set()
    for ins in instructions:
        if isinstance(ins, RunScope):
            named.update(ins.nodes)
    missing = sorted({ins.node_name for ins in instructions
                      if isinstance(ins, CreateNode) and ins.node_name not in named})
    if missing:
        raise ValueError(f"CreateNode of {', '.join(missing)} without a RunScope naming it "
                         "(the enactor sends RunScope.of(description, infra_id) first)")
