"""Bring instance records up to date before a decision: is each node still there, and
healthy? One state call per cloud endpoint and batched health checks per pass.

Looking and recording are two steps: :meth:`Probe.observe` asks the clouds and health
checks and works out what a pass records, writing nothing; :meth:`Probe.record` writes
it. A maintenance pass does both (:meth:`Probe.refresh`); ``occo status --refresh`` only
looks, with a time budget, so one observation code serves both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from occo.compiler import StaticDescription
from occo.infobroker import Event, InstanceRecord, InstanceState, Intent, Store
from occo.util import CallTimeoutError, OccoError, RequestBuilder, scaling_secret
from occo.util.comm import (
    UNKNOWN_STATUS,
    Client,
    CloudHandlerEndpoint,
    Health,
    NodeStatus,
    ServiceComposerEndpoint,
    call,
    method_name,
)

__all__ = ["Probe", "Observation"]

log = logging.getLogger(__name__)

NOT_CHECKED = Health(healthy=False)
GONE = {"missing": "vanished: the cloud no longer has it", "terminated": "terminated",
        "failed": "the cloud reports it failed", "stopped": "stopped", "stopping": "stopping"}


@dataclass(slots=True)
class Observation:
    """What one look at the clouds and health checks found, not yet recorded.

    ``changes`` are the record changes a pass writes (state and failure), ``checked`` the
    instances whose state was observed at ``time`` (changed or not), ``unknown`` those
    that could not be observed, with the reason. ``unhealthy`` instances have a failure
    timer (started at ``time`` unless one runs), ``recovered`` ones have theirs cleared.
    """

    time: float
    records: list[InstanceRecord]
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)
    unhealthy: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)


def _observable(records: Sequence[InstanceRecord]) -> list[InstanceRecord]:
    """The instances a pass asks about: created, with a resource, not failed."""
    return [r for r in records if r.intent == Intent.CREATED and r.resource
            and r.state != InstanceState.FAILED]


class Probe:
    """Refreshes the state of an infrastructure's created instances."""

    def __init__(self, store: Store, *, cloud: Client, composer: Client,
                 timeout: float = 120.0) -> None:
        self.store, self.cloud, self.composer = store, cloud, composer
        self.timeout = timeout

    def refresh(self, infra_id: str, description: StaticDescription) -> list[InstanceRecord]:
        """Update states, failure timers and events; return the fresh records."""
        return self.record(infra_id, self.observe(infra_id, description))

    # ------------------------------------------------------------------ looking

    def observe(self, infra_id: str, description: StaticDescription, *,
                budget: float | None = None, tolerant: bool = False) -> Observation:
        """Ask the clouds and health checks; write nothing.

        ``budget``: seconds for both calls together (default: ``timeout`` each). With
        ``tolerant``, a call that fails or does not answer in time leaves its instances
        ``unknown`` with the reason instead of raising.
        """
        records = self.store.list_instances(infra_id)
        seen = Observation(time=time.time(), records=records)
        created = _observable(records)
        if not created:
            return seen
        limit = None if budget is None else (budget, time.monotonic() + budget)
        states, why = self._ask(self.cloud, CloudHandlerEndpoint.get_states, limit, tolerant,
                                refs=[r.resource for r in created])
        if states is None:
            seen.unknown.update({r.instance_id: why for r in created})
            return seen
        running = self._classify(seen, infra_id, created, states)
        checkable = {r.instance_id for r in running if (r.resource or {}).get("checkable", True)}
        results: dict[str, Health] = {}
        if checkable:
            targets = self._targets(infra_id, description,
                                    [r for r in running if r.instance_id in checkable])
            results, why = self._ask(self.composer, ServiceComposerEndpoint.check_health, limit,
                                     tolerant,
                                     targets=targets)
            if results is None:  # those whose health is unknown are not judged
                seen.unknown.update(dict.fromkeys(checkable, why))
                running = [r for r in running if r.instance_id not in checkable]
                checkable, results = set(), {}
        self._judge_health(seen, infra_id, running, checkable, results)
        return seen

    def _ask(self, client: Client, method: Callable[..., Any], budget: tuple[float, float] | None,
             tolerant: bool, **params: Any) -> tuple[Any, str]:
        """``(reply, "")``, or with ``tolerant`` ``(None, why)`` for a failed call.
        ``budget`` is ``(seconds, deadline)`` of the whole observation, if it has one."""
        timeout = self.timeout if budget is None else max(0.0, budget[1] - time.monotonic())
        name = method_name(method)
        try:
            return call(client, method, timeout=timeout, **params), ""
        except OccoError as exc:
            if not tolerant:
                raise
            log.warning("%s.%s for a status refresh: %s", client.endpoint, name, exc)
            if isinstance(exc, CallTimeoutError) and budget is not None:
                return None, (f"not observed: {client.endpoint}.{name} did not answer "
                              f"within the {budget[0]:g} s of the refresh")
            return None, f"not observed: {exc}"

    def _classify(self, seen: Observation, infra_id: str, created: list[InstanceRecord],
                  states: Mapping[str, NodeStatus]) -> list[InstanceRecord]:
        """Record the gone and the unknown; return the running ones."""
        running = []
        for rec in created:
            status = states.get(rec.instance_id) or UNKNOWN_STATUS
            state, detail = status.state.value, status.detail
            if state in GONE:
                reason = GONE[state] + (f" ({detail})" if detail else "")
                seen.changes[rec.instance_id] = {"state": InstanceState.FAILED,
                                                 "failure": {"reason": reason,
                                                             "since": seen.time}}
                seen.events.append(Event(type="node.failed", infra_id=infra_id,
                                         node_name=rec.node_name, instance_id=rec.instance_id,
                                         time=seen.time, details={"reason": reason}))
                seen.checked.append(rec.instance_id)
            elif state == "running":
                running.append(rec)
            else:
                seen.unknown[rec.instance_id] = f"the cloud reports it {state}" + (
                    f" ({detail})" if detail else "")
        return running

    def _targets(self, infra_id: str, description: StaticDescription,
                 checkable: list[InstanceRecord]) -> list[dict[str, Any]]:
        requests = RequestBuilder(description, infra_id,
                                  scaling_secret=scaling_secret(self.store, infra_id))
        return [{"instance_id": r.instance_id, "addresses": r.addresses,
                 "private_addresses": r.private_addresses,
                 "request": requests.request(r.node_name, r.instance_id, r.implementation)}
                for r in checkable]

    def _judge_health(self, seen: Observation, infra_id: str, running: list[InstanceRecord],
                      checkable: set[str], results: Mapping[str, Health]) -> None:
        timers = self.store.get_failure_timers(infra_id)
        for rec in running:
            iid = rec.instance_id
            seen.checked.append(iid)
            result = results.get(iid) or NOT_CHECKED
            if iid not in checkable or result.healthy:
                if rec.state != InstanceState.READY:
                    seen.changes[iid] = {"state": InstanceState.READY, "failure": None}
                    seen.events.append(Event(type="node.recovered", infra_id=infra_id,
                                             node_name=rec.node_name, instance_id=iid,
                                             time=seen.time, details={}))
                if iid in timers:
                    seen.recovered.append(iid)
                continue
            detail = result.detail
            seen.unhealthy.append(iid)
            if rec.state != InstanceState.UNHEALTHY:
                seen.changes[iid] = {"state": InstanceState.UNHEALTHY,
                                     "failure": {"reason": f"unhealthy: {detail}",
                                                 "since": timers.get(iid, seen.time)}}
                seen.events.append(Event(type="node.unhealthy", infra_id=infra_id,
                                         node_name=rec.node_name, instance_id=iid,
                                         time=seen.time, details={"detail": detail}))

    # ------------------------------------------------------------------ recording

    def record(self, infra_id: str, seen: Observation) -> list[InstanceRecord]:
        """Write an observation (timers, states, ``checked_at``, events); the fresh records."""
        for iid in seen.recovered:
            self.store.clear_failure_timer(infra_id, iid)
        for iid in seen.unhealthy:
            since = self.store.start_failure_timer(infra_id, iid, seen.time)
            failure = seen.changes.get(iid, {}).get("failure")
            if failure is not None:
                failure["since"] = since
        if not seen.checked:
            return seen.records
        # a state found unchanged is not a change: its updated_at stays (the store would
        # set it to now)
        updated = {r.instance_id: r.updated_at for r in seen.records}
        changes = {iid: {"checked_at": seen.time, "updated_at": updated[iid]}
                   for iid in seen.checked}
        for iid, change in seen.changes.items():
            changes[iid].update(change, updated_at=seen.time)
        self.store.update_instances(changes)
        if seen.events:
            self.store.append_events(seen.events)
        return self.store.list_instances(infra_id)
