"""The enactor as a service: plan, one maintenance pass, and the maintain loop.

A pass holds the infrastructure's lease in the store for its whole duration (renewed in
the background), so two maintainers never act on one infrastructure, and one that dies
loses the lease when its time-to-live runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from occo.compiler import ImplementationChooser, StaticDescription, thaw
from occo.infobroker import Event, InstanceRecord, Intent, Store, held_lease, holder_name
from occo.util import (
    CANCEL_REQUESTED,
    DropInfrastructure,
    DropNode,
    InfraStatus,
    RunScope,
    is_template,
    new_id,
    scrub,
)
from occo.util.comm import Client, cloud_client, processor_client

from .config import MaintenanceConfig
from .decide import Decision, decide
from .errors import LeaseHeld
from .probe import Probe

__all__ = ["Enactor", "lease_name"]

log = logging.getLogger(__name__)


def lease_name(infra_id: str) -> str:
    return f"maintain:{infra_id}"


class Enactor:
    """Decides and drives maintenance passes of infrastructures in the store."""

    def __init__(self, store: Store, *, processor: Client, cloud: Client, composer: Client,
                 config: MaintenanceConfig | None = None, holder: str | None = None,
                 call_timeout: float = 24 * 3600.0) -> None:
        self.store = store
        self.processor = processor
        self.config = config or MaintenanceConfig()
        self.probe = Probe(store, cloud=cloud, composer=composer)
        self.holder = holder or holder_name()
        self.chooser = ImplementationChooser(self.config.choice, seed=self.config.seed)
        self.call_timeout = call_timeout
        self._orphans: dict[str, list[str]] = {}
        self._outdated: dict[str, dict[str, list[str]]] = {}

    # ------------------------------------------------------------------ planning

    def decide(self, infra_id: str, *, refresh: bool, rollout: bool = False
               ) -> tuple[Decision, list[InstanceRecord], int]:
        """Decide from the store (and the clouds, with ``refresh``); nothing is consumed.

        Returns the decision, the instance records it saw and how many queued scaling
        requests it applied (settled with the new targets by :meth:`maintain_once`).
        """
        infra = self.store.get_infrastructure(infra_id)
        description = StaticDescription.from_dict(infra.description)
        records = self.probe.refresh(infra_id, description) if refresh \
            else self.store.list_instances(infra_id)
        requests = self.store.peek_scaling_requests(infra_id)
        decision = decide(description, records, infra_id=infra_id,
                          targets=self.store.get_scaling_targets(infra_id), requests=requests,
                          timers=self.store.get_failure_timers(infra_id), now=time.time(),
                          config=self.config, choose=self.chooser.choose, rollout=rollout)
        return decision, records, len(requests)

    def plan(self, infra_id: str) -> Decision:
        """What a pass would do now, without touching a cloud or consuming requests."""
        return self.decide(infra_id, refresh=False)[0]

    # ------------------------------------------------------------------ acting

    def lease(self, infra_id: str):
        """Hold the infrastructure's maintenance lease for the block, or LeaseHeld."""
        return held_lease(self.store, lease_name(infra_id), self.holder, self.config.lease_ttl,
                          what=f"infrastructure {infra_id}'s maintenance", infra_id=infra_id)

    def destroy(self, infra_id: str) -> dict[str, Any]:
        """Drop every instance of the infrastructure under its lease, then forget it (it
        is kept, ``destroy_failed``, when a drop failed). The processor's outcome."""
        with self.lease(infra_id):
            self.store.update_infrastructure(infra_id, expected_version=None,
                                             status=InfraStatus.DESTROYING)
            processor = processor_client(self.processor, timeout=self.call_timeout)
            outcome = processor.execute(
                infra_id=infra_id, instructions=[DropInfrastructure(infra_id=infra_id).to_dict()],
                request_id=new_id())
        if outcome["status"] == InfraStatus.DESTROYED:
            self.store.delete_infrastructure(infra_id)
        else:
            self.store.update_infrastructure(infra_id, expected_version=None,
                                             status=InfraStatus(outcome["status"]))
        return outcome

    def cancel(self, infra_id: str, *, timeout: float = 30.0) -> bool:
        """Ask a running build of ``infra_id`` to stop and roll back: the processor serving
        it is told, and a ``build.cancel_requested`` event is appended to the log so that
        a processor worker on another machine sees it too (the ``cancelling`` status,
        written first, is what people see). Whether a build was running here."""
        self.store.update_infrastructure(infra_id, expected_version=None,
                                         status=InfraStatus.CANCELLING)
        self.store.append_event(Event(type=CANCEL_REQUESTED, infra_id=infra_id,
                                      details={"by": self.holder}))
        return bool(processor_client(self.processor, timeout=timeout).cancel(infra_id=infra_id))

    def drift(self, infra_id: str, description: StaticDescription,
              records: list[InstanceRecord]) -> list[dict]:
        """Resources carrying this infrastructure's tags that the store does not know."""
        resources, seen = [], set()
        for resource in [thaw(i.resource) for n in description.nodes
                         for i in n.implementations] \
                + [r.implementation.get("resource") or {} for r in records if r.implementation]:
            key = repr(sorted(resource.items(), key=str))
            if key not in seen and not any(is_template(v) for v in resource.values()):
                seen.add(key)
                resources.append(resource)
        cloud = cloud_client(self.probe.cloud, timeout=self.probe.timeout)
        refs = cloud.list_nodes(infra_id=infra_id, resources=resources)
        known = {r.instance_id for r in records}
        return [ref for ref in refs if ref.get("instance_id") not in known]

    def maintain_once(self, infra_id: str, *, keep_on_failure: bool = False,
                      clean_orphans: bool = False,
                      on_decision: Callable[[Decision], None] | None = None,
                      proceed: Callable[[], bool] | None = None,
                      rollout: bool = False) -> dict:
        """One pass under the lease: refresh, decide, record, execute. Returns the outcome.

        Drift is checked on every pass: resources with this infrastructure's tags that the
        store does not know are reported (an event when the set changes) and, with
        ``clean_orphans``, dropped. Instances the cloud no longer has are found by the
        refresh and replaced like failed ones. ``proceed()``, asked once the pass has
        decided, false (Ctrl-C while it refreshed and decided) ends it there: nothing
        executed, no request settled, status ``cancelled``. With ``rollout`` the pass also
        takes the next step of replacing outdated instances (:func:`~occo.enactor.decide`).
        """
        with self.lease(infra_id):
            decision, records, taken = self.decide(infra_id, refresh=True, rollout=rollout)
            if proceed is not None and not proceed():
                return {"infra_id": infra_id, "status": "cancelled", "created": 0,
                        "ready": 0, "dropped": 0, "replaced": 0, "healed": 0,
                        "failures": [], "drop_failures": [], "executed": False}
            infra = self.store.get_infrastructure(infra_id)
            orphans = self.drift(infra_id, StaticDescription.from_dict(infra.description),
                                 records)
            ids = sorted(ref["instance_id"] for ref in orphans)
            if ids != self._orphans.get(infra_id, []):
                self._orphans[infra_id] = ids
                if ids:
                    decision.event("drift.orphans", instances=ids, message=(
                        f"{len(ids)} resource(s) carry this infrastructure's tags but are not "
                        "in the store" + ("" if clean_orphans else
                                          "; `occo maintain --clean-orphans` drops them")))
            if not rollout:
                self._tell_outdated(infra_id, decision)
            outdated = sum(len(v) for v in decision.outdated.values())
            if clean_orphans:
                decision.instructions += [
                    DropNode(infra_id=infra_id, instance_id=ref["instance_id"],
                             node_name=str(ref.get("node_name") or "?"), ref=ref,
                             reason="orphan: not in the store") for ref in orphans]
            # the requests leave the queue in the same step as the targets they set: a
            # maintainer killed before this line leaves them queued for the next one
            self.store.settle_scaling_requests(infra_id, taken, decision.targets)
            if decision.events:
                now = time.time()
                self.store.append_events([
                    Event(type=e["type"], infra_id=infra_id, node_name=e.get("node"),
                          instance_id=e.get("instance_id"), time=now,
                          details={k: v for k, v in e.items() if k not in ("type", "node")})
                    for e in decision.events])
            if on_decision is not None:
                on_decision(decision)
            unfinished = any(r.intent == Intent.DROPPING or (r.intent == Intent.CREATING)
                             for r in records)
            healed = sum(e["type"] == "healing" for e in decision.events)
            if not decision.instructions and not unfinished:
                return {"infra_id": infra_id, "status": "unchanged", "created": 0,
                        "ready": 0, "dropped": 0, "replaced": 0, "healed": 0, "failures": [],
                        "drop_failures": [], "outdated": outdated,
                        "settling": decision.settling}
            processor = processor_client(self.processor, timeout=self.call_timeout)
            # the run's scope first: what the processor needs of the description, so it
            # never reads it back from the store
            scope = RunScope.of(StaticDescription.from_dict(infra.description), infra_id)
            outcome = processor.execute(
                infra_id=infra_id,
                instructions=[scope.to_dict()] + [i.to_dict() for i in decision.instructions],
                keep_on_failure=keep_on_failure, request_id=new_id())
            # replaced: failed attempts the processor replaced while building; healed:
            # failed or vanished nodes this pass decided to replace
            return {**outcome, "healed": healed, "outdated": outdated,
                    "settling": decision.settling}

    def _tell_outdated(self, infra_id: str, decision: Decision) -> None:
        """A ``node.outdated`` event per node whose outdated instances changed since this
        enactor last told (each build tells once; a maintain loop, once per change)."""
        now = {node: sorted(i["instance_id"] for i in items)
               for node, items in decision.outdated.items()}
        told = self._outdated.get(infra_id, {})
        self._outdated[infra_id] = now
        for node, ids in sorted(now.items()):
            if told.get(node) == ids:
                continue
            forced = sorted({f for i in decision.outdated[node] for f in i["forced_by"]})
            keys = sorted({c["key"] for i in decision.outdated[node] for c in i["changes"]})
            decision.event("node.outdated", node=node, instances=ids, keys=keys,
                           forced_by=forced, message=(
                               f"{len(ids)} instance(s) of {node!r} were built from another "
                               f"definition ({', '.join(keys[:5])}"
                               f"{', ...' if len(keys) > 5 else ''}); they keep running "
                               "until a build replaces them (`occo plan` shows why)"))

    def loop(self, infra_ids: Callable[[], list[str]], stop: threading.Event) -> None:
        """Maintain every infrastructure ``infra_ids()`` names until ``stop`` is set.

        Passes run every ``interval`` seconds, and sooner when a scaling request arrives.
        An infrastructure whose lease another maintainer holds is skipped this round. One
        whose pass fails (an error, or a pass that ends failed) is tried again after the
        interval, then twice that, and so on up to ``failure_backoff_cap``, whatever
        arrives in between; each distinct failure is one ``maintenance.failed`` event and
        one warning (the traceback only at debug level), and the first pass that works
        again is a ``maintenance.recovered`` event.
        """
        last: dict[str, float] = {}
        failing: dict[str, _Failing] = {}
        while not stop.is_set():
            now = time.monotonic()
            for infra_id in infra_ids():
                trouble = failing.get(infra_id)
                if trouble is not None and now < trouble.retry_at:
                    continue
                due = now - last.get(infra_id, -1e18) >= self.config.interval
                if not due and trouble is None and \
                        not self.store.peek_scaling_requests(infra_id):
                    continue
                last[infra_id] = now
                try:
                    outcome = self.maintain_once(infra_id)
                except LeaseHeld as exc:
                    log.info("%s", exc)
                except Exception as exc:  # one infrastructure's trouble must not stop the rest
                    log.debug("maintenance of %s failed", infra_id, exc_info=True)
                    failing[infra_id] = self._failing(infra_id, _reason(exc), trouble, now)
                else:
                    if outcome["status"] == "failed":
                        failing[infra_id] = self._failing(
                            infra_id, _outcome_reason(outcome), trouble, now)
                    elif trouble is not None:
                        del failing[infra_id]
                        self._note(infra_id, "maintenance.recovered",
                                   f"maintenance works again after {trouble.attempts} "
                                   "failed pass(es)", attempts=trouble.attempts)
                if stop.is_set():
                    return
            stop.wait(self.config.wake_check)

    def _failing(self, infra_id: str, reason: str, trouble: _Failing | None,
                 now: float) -> _Failing:
        """The backoff after a failed pass; a failure unlike the last one is told."""
        attempts = 1 if trouble is None else trouble.attempts + 1
        delay = min(self.config.interval * 2 ** (attempts - 1),
                    max(self.config.failure_backoff_cap, self.config.interval))
        if trouble is None or trouble.reason != reason:
            log.warning("maintenance of %s failed: %s (tried again in %.0f s, then less "
                        "often while it fails)", infra_id, reason, delay)
            self._note(infra_id, "maintenance.failed", reason, attempts=attempts,
                       retry_in=round(delay, 3))
        else:
            log.info("maintenance of %s still fails (%d passes): tried again in %.0f s",
                     infra_id, attempts, delay)
        return _Failing(attempts=attempts, reason=reason, retry_at=now + delay)

    def _note(self, infra_id: str, kind: str, message: str, **details: Any) -> None:
        try:
            self.store.append_events([Event(type=kind, infra_id=infra_id, time=time.time(),
                                            details={"message": message, **details})])
        except Exception as exc:  # the store may be what fails; the log has it
            log.debug("could not record %s for %s: %s", kind, infra_id, exc)


@dataclass(frozen=True, slots=True)
class _Failing:
    """An infrastructure whose maintenance fails: how often, why, when to try again."""

    attempts: int
    reason: str
    retry_at: float


def _reason(exc: BaseException) -> str:
    return scrub(str(exc) or type(exc).__name__)


def _outcome_reason(outcome: dict) -> str:
    failures = outcome.get("failures") or []
    if failures:
        first = failures[0]
        return scrub(f"node {first.get('node')}: {first.get('reason')}")
    return "the pass ended failed"
