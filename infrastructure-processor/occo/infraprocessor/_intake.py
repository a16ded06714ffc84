"""A run's intake: its instructions, and the work a previous, interrupted run left in
the store, made into slots.

What the run needs of the description comes in the instructions (a ``RunScope``); the
store is read for the infrastructure's instance records only.
"""

from __future__ import annotations

from collections.abc import Iterable

from occo.infobroker import InstanceRecord, InstanceState, Intent
from occo.util import (
    CreateInfrastructure,
    CreateNode,
    DropInfrastructure,
    DropNode,
    Instruction,
    RequestBuilder,
    RunScope,
    endpoint_key,
    scaling_secret,
)

from ._builtfrom import without
from ._part import RunPart
from ._slots import Phase, Slot

__all__ = ["Intake"]


class Intake(RunPart):
    def start(self, instructions: Iterable[Instruction]) -> None:
        """Take the run's instructions; the description is never read from the store: a
        ``RunScope`` among them says what the run needs of it."""
        instructions = list(instructions)
        for ins in instructions:
            if isinstance(ins, RunScope):
                self.run.scope = ins
        self.run.requests = RequestBuilder.from_scope(
            self.run.scope, scaling_secret=scaling_secret(self.run.store, self.run.infra_id))
        records = {r.instance_id: r for r in self.run.store.list_instances(self.run.infra_id)}
        for rec in records.values():
            if rec.state == InstanceState.READY and rec.intent == Intent.CREATED:
                self.progress.ready_before(rec.node_name)
        self.resume(records.values())
        for ins in instructions:
            if isinstance(ins, CreateInfrastructure):
                self.ledger.event("infra.building")
            elif isinstance(ins, CreateNode) and self.table.get(ins.instance_id) is None \
                    and ins.instance_id not in records:  # not made (or begun) already
                self.add_create(ins)
            elif isinstance(ins, DropNode) and ins.instance_id in records:
                known = self.table.get(ins.instance_id)
                if known is None or known.phase not in (Phase.DROP_QUEUED, Phase.DROPPING):
                    self.add_drop(records[ins.instance_id], ins.reason)
            elif isinstance(ins, DropNode) and ins.ref and self.table.get(ins.instance_id) is None:
                self.run.add(Slot(instance_id=ins.instance_id, node_name=ins.node_name,
                                  endpoint=endpoint_key(ins.ref.get("resource") or ins.ref),
                                  phase=Phase.DROP_QUEUED, ref=dict(ins.ref),
                                  reason=ins.reason, new=False,
                                  touched=True))  # an orphan: no record to change
            elif isinstance(ins, DropInfrastructure):
                self.run.drop_infra = True
                self.ledger.event("infra.destroying")
                for rec in records.values():
                    known = self.table.get(rec.instance_id)
                    if known is None or known.phase not in (Phase.DROP_QUEUED,):
                        self.add_drop(rec, "infrastructure destroyed")
        self.ledger.flush()

    def waits_for(self, name: str) -> tuple[str, ...]:
        return tuple(self.run.scope.waits_for.get(name, ()))

    def slot_for(self, rec: InstanceRecord, phase: Phase, reason: str) -> Slot:
        resource = (rec.implementation or {}).get("resource", {})
        return Slot(instance_id=rec.instance_id, node_name=rec.node_name,
                    endpoint=endpoint_key(resource), phase=phase,
                    node=self.run.node(rec.node_name),
                    implementation=without(rec.implementation or {}),
                    waits_for=self.waits_for(rec.node_name), reason=reason,
                    attempt=rec.attempts or 1, ref=rec.resource, recorded=True, touched=True,
                    announced=True)

    def resume(self, records: Iterable[InstanceRecord]) -> None:
        """Adopt the work a previous, interrupted run left in the store."""
        resumed = 0
        for rec in records:
            if rec.intent == Intent.DROPPING or (rec.intent == Intent.CREATING
                                                 and rec.state == InstanceState.FAILED):
                # a drop, or a failed attempt whose drop, was cut short
                slot = self.slot_for(rec, Phase.DROP_QUEUED, "interrupted drop")
                slot.new = False
            elif rec.intent == Intent.CREATING:
                self.progress.planned(rec.node_name)
                slot = self.slot_for(rec, Phase.STARTING if rec.resource else Phase.WAITING,
                                      "resumed")
                if rec.resource:
                    slot.since = self.now()
                    self.run.observing.poll_at(slot, slot.since)
            else:
                continue
            self.run.add(slot)
            resumed += 1
        if resumed:
            self.ledger.event("infra.resumed", instances=resumed)

    def add_create(self, ins: CreateNode) -> None:
        resource = ins.implementation.get("resource", {})
        self.run.add(Slot(instance_id=ins.instance_id, node_name=ins.node_name,
                       endpoint=endpoint_key(resource), phase=Phase.WAITING, node=ins.node,
                       implementation=ins.implementation, waits_for=tuple(ins.waits_for),
                       reason=ins.reason))
        self.run.creating.unrecorded.append(self.table.by_id[ins.instance_id])
        self.progress.planned(ins.node_name)

    def add_drop(self, rec: InstanceRecord, reason: str) -> None:
        known = self.table.get(rec.instance_id)
        if known is not None and known.phase in (Phase.WAITING, Phase.STARTING):
            self.progress.withdrawn(known.node_name)
        slot = self.slot_for(rec, Phase.DROP_QUEUED, reason)
        slot.new = False
        self.run.add(slot)
