"""One maintenance decision: desired state against actual state, as instructions.

A pure function of its inputs (no store, no cloud), so ``occo plan`` can show exactly
what ``build`` or ``maintain`` would do, and tests can check every rule directly:

- scaling, with Occopus's semantics: queued requests applied in order (create +N,
  destroy -N or a named instance, set N), the result clamped to ``[min, max]`` with a
  warning, scale-down removing the youngest instance first;
- upkeep: failed instances (the cloud reports an error, the node vanished, or it stayed
  unhealthy longer than its health timeout) are dropped and replaced, unless more than
  the brake fraction of all instances have failed, in which case nothing is replaced and
  an event says why;
- outdated: live instances whose recorded inputs differ from what the description
  resolves to now (:mod:`occo.enactor.changes`), each with its reasons. They are
  reported, not replaced (the rolling replacement is a later step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from occo.compiler import StaticDescription
from occo.infobroker import InstanceRecord, InstanceState, Intent, ScalingRequest
from occo.util import CreateNode, DropNode, Instruction, new_id

from .changes import outdated
from .config import MaintenanceConfig

__all__ = ["Decision", "decide", "apply_requests", "ROLLOUT_CREATE", "ROLLOUT_DROP"]

#: the reasons of a rollout's instructions (``occo plan`` counts them as replacements)
ROLLOUT_CREATE = "rollout: replaces an outdated instance"
ROLLOUT_DROP = "rollout: replaced by an instance of the new definition"

LIVE_STATES = {InstanceState.PENDING, InstanceState.STARTING, InstanceState.READY,
               InstanceState.UNHEALTHY, InstanceState.UNKNOWN}


@dataclass(slots=True)
class Decision:
    """What a pass decided: instructions, new scaling targets, and events to record."""

    instructions: list[Instruction] = field(default_factory=list)
    targets: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: per node, the instances built from something else than the description now gives
    outdated: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: per node, how many live instances stay as they are
    unchanged: dict[str, int] = field(default_factory=dict)
    #: seconds until a new instance of a rollout has been ready its min_ready_seconds
    #: (0: none is settling; the next pass may go on at once)
    settling: float = 0.0

    def event(self, type_: str, **details: Any) -> None:
        self.events.append({"type": type_, **details})

    @property
    def creates(self) -> list[CreateNode]:
        return [i for i in self.instructions if isinstance(i, CreateNode)]

    @property
    def drops(self) -> list[DropNode]:
        return [i for i in self.instructions if isinstance(i, DropNode)]


def _matches(rec: InstanceRecord, request: ScalingRequest) -> bool:
    if request.instance_id:
        return rec.instance_id == request.instance_id
    if request.address:
        return request.address in (rec.addresses or []) or \
            request.address in (rec.private_addresses or [])
    return False


def apply_requests(target: int, live: list[InstanceRecord],
                   requests: Iterable[ScalingRequest], decision: Decision,
                   node: str) -> tuple[int, list[InstanceRecord]]:
    """Apply queued requests in order; return the new target and named removals."""
    named: list[InstanceRecord] = []
    for req in requests:
        if req.kind == "create":
            target += req.count
        elif req.kind == "set":
            target = req.count
        elif req.kind == "destroy" and (req.instance_id or req.address):
            found = next((r for r in live if _matches(r, req) and r not in named), None)
            if found is None:
                decision.event("scaling.unknown_instance", node=node,
                               instance_id=req.instance_id, address=req.address)
                continue
            named.append(found)
            target -= 1
        elif req.kind == "destroy":
            target -= req.count
    return target, named


def _failed(rec: InstanceRecord, timers: Mapping[str, float], now: float,
            timeout: float) -> str | None:
    """Why ``rec`` counts as failed, or None."""
    if rec.state == InstanceState.FAILED:
        return (rec.failure or {}).get("reason", "the cloud reports an error")
    if rec.state == InstanceState.UNHEALTHY:
        since = timers.get(rec.instance_id)
        if since is not None and now - since > timeout:
            return f"unhealthy for more than {timeout:g} s"
    return None


def _health_timeout(implementation: Mapping[str, Any], default: float) -> float:
    check = implementation.get("health_check") or {}
    value = check.get("timeout") if isinstance(check, Mapping) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else default


def decide(description: StaticDescription, instances: Iterable[InstanceRecord], *,
           infra_id: str, targets: Mapping[str, int],
           requests: Iterable[ScalingRequest] = (), timers: Mapping[str, float] | None = None,
           now: float, config: MaintenanceConfig,
           choose: Callable[[Any], tuple[int, Any]],
           new_instance_id: Callable[[], str] = new_id, rollout: bool = False) -> Decision:
    """Decide one pass for ``infra_id``. ``choose(node)`` picks an implementation.

    With ``rollout``, outdated instances are replaced step by step (:func:`_roll`), a node
    only once its dependencies have none left and all theirs are ready; without it they
    are only reported."""
    decision = Decision()
    timers = timers or {}
    by_node: dict[str, list[InstanceRecord]] = {name: [] for name in description.node_names}
    removed: dict[str, list[InstanceRecord]] = {}   # of node types no longer described
    for rec in instances:
        if rec.intent == Intent.DROPPING:
            continue
        if rec.node_name in by_node:
            by_node[rec.node_name].append(rec)
        else:
            removed.setdefault(rec.node_name, []).append(rec)
    for name, recs in sorted(removed.items()):
        decision.event("node.removed", node=name, instances=len(recs),
                       message=f"node {name!r} is no longer in the description: its "
                               f"{len(recs)} instance(s) are dropped")
        decision.instructions += [DropNode(infra_id=infra_id, instance_id=rec.instance_id,
                                           node_name=name,
                                           reason="no longer in the description")
                                  for rec in recs]
    queued: dict[str, list[ScalingRequest]] = {}
    for req in requests:
        queued.setdefault(req.node_name, []).append(req)
    for name in queued:
        if name not in by_node:
            decision.event("scaling.unknown_node", node=name)

    failed: dict[str, tuple[InstanceRecord, str]] = {}
    total = 0
    for recs in by_node.values():
        for rec in recs:
            total += 1
            reason = _failed(rec, timers, now,
                             _health_timeout(rec.implementation or {}, config.health_timeout))
            if reason:
                failed[rec.instance_id] = (rec, reason)
    braked = total > 0 and len(failed) / total > config.brake_fraction
    if braked:
        decision.event("healing.braked", failed=len(failed), instances=total,
                       fraction=config.brake_fraction,
                       message=f"{len(failed)} of {total} instances failed, more than "
                               f"{config.brake_fraction:.0%}: not replacing any; check the "
                               "cloud and the nodes' health checks")

    wanted: dict[str, int] = {}
    kept: dict[str, list[InstanceRecord]] = {}
    for node in description:
        recs = by_node[node.name]
        smin, smax = node.scaling.min, node.scaling.max
        start = targets.get(node.name, smin)
        target, named = apply_requests(start, recs, queued.get(node.name, ()), decision,
                                       node.name)
        if target < smin or target > smax:
            clamped = min(max(target, smin), smax)
            decision.event("scaling.clamped", node=node.name, requested=target,
                           target=clamped, min=smin, max=smax,
                           message=f"{node.name}: {target} instances requested, clamped to "
                                   f"{clamped} (min {smin}, max {smax})")
            target = clamped
        if target != start or node.name in queued:
            decision.event("scaling", node=node.name, before=start, target=target)
        decision.targets[node.name] = target
        wanted[node.name] = target
        for rec in named:
            decision.instructions.append(DropNode(infra_id=infra_id, instance_id=rec.instance_id,
                                                  node_name=node.name,
                                                  reason="scale down (named)"))
        keep = [r for r in recs if r not in named]
        if not braked:
            for rec in [r for r in keep if r.instance_id in failed]:
                reason = failed[rec.instance_id][1]
                decision.instructions.append(DropNode(
                    infra_id=infra_id, instance_id=rec.instance_id, node_name=node.name,
                    reason=f"failed: {reason}"))
                decision.event("healing", node=node.name, instance_id=rec.instance_id,
                               reason=reason)
            keep = [r for r in keep if r.instance_id not in failed]
        kept[node.name] = keep
    # which of the instances that stay were built from another definition, and why
    decision.outdated, decision.unchanged = outdated(
        description, [r for recs in kept.values() for r in recs],
        leaving={d.instance_id for d in decision.drops})
    stale = {i["instance_id"] for items in decision.outdated.values() for i in items}
    missing: dict[str, tuple[int, str]] = {}
    settled: dict[str, bool] = {}
    for name in description.topological_order:
        node = description.node(name)
        keep, target = kept[name], wanted[name]
        # while outdated instances remain, the new ones a rollout added within its surge
        # are not an excess (a pass that dropped them would undo the rollout, and one
        # that dropped old ones instead would serve fewer than wanted)
        renewed = sum(r.instance_id not in stale for r in keep)
        surging = min(node.update.max_surge, renewed) if renewed < len(keep) else 0
        excess = len(keep) - target - surging
        if excess > 0:
            # outdated first, then the youngest; among equals, those not ready yet go first
            order = sorted(keep, key=lambda r: (r.instance_id not in stale,
                                                r.state == InstanceState.READY, -r.created_at))
            for rec in order[:excess]:
                decision.instructions.append(DropNode(
                    infra_id=infra_id, instance_id=rec.instance_id, node_name=name,
                    reason=f"scale down to {target}"))
            gone = {r.instance_id for r in order[:excess]}
            keep = [r for r in keep if r.instance_id not in gone]
            # a dropped instance is neither replaced nor unchanged
            if name in decision.outdated:
                decision.outdated[name] = [i for i in decision.outdated[name]
                                           if i["instance_id"] not in gone]
                if not decision.outdated[name]:
                    del decision.outdated[name]
            spared = len(gone - stale)
            if spared and name in decision.unchanged:
                decision.unchanged[name] = max(0, decision.unchanged[name] - spared)
        old = [r for r in keep if r.instance_id in stale]
        ready_now = all(r.state == InstanceState.READY for r in keep)
        if rollout and old and all(settled.get(d, True)
                                   for d in description.dependencies_of(name)):
            count, _ = _roll(node, keep, old, target, decision, infra_id, now)
            missing[name] = (count, ROLLOUT_CREATE)
            settled[name] = False
            continue
        settled[name] = not old and ready_now and len(keep) >= target
        missing[name] = (target - len(keep), f"{len(keep)} of {target} wanted")
    # creates wait only for the dependencies that will have instances
    for node in description:
        count, reason = missing.get(node.name, (0, ""))
        if count <= 0:
            continue
        node_dict = node.to_dict()
        waits = tuple(d for d in description.dependencies_of(node.name) if wanted[d] > 0)
        impl_dicts: dict[int, dict] = {}
        for _ in range(count):
            index, impl = choose(node)
            if index not in impl_dicts:
                impl_dicts[index] = impl.to_dict()
            decision.instructions.append(CreateNode(
                infra_id=infra_id, instance_id=new_instance_id(), node=node_dict,
                implementation=impl_dicts[index], waits_for=waits, reason=reason))
    return decision


def _roll(node: Any, keep: list[InstanceRecord], old: list[InstanceRecord], target: int,
          decision: Decision, infra_id: str, now: float) -> tuple[int, int]:
    """One step of the rolling replacement of ``node``: drop the outdated instances its
    limits allow now that the new ones are ready, and say how many new ones to create.
    Decided from the records alone, so a rollout killed at any moment and run again goes
    on from where it stands. Returns ``(creates, drops)``."""
    surge, unavailable = node.update.max_surge, node.update.max_unavailable
    settle = node.update.min_ready_seconds
    old_ids = {r.instance_id for r in old}
    new = [r for r in keep if r.instance_id not in old_ids]
    # a new instance counts once it has been ready min_ready_seconds (a balancer sees
    # it); one whose ready time is not recorded counts at once
    since = [now - r.ready_at if r.ready_at is not None and settle > 0 else settle
             for r in new if r.state == InstanceState.READY]
    new_ready = sum(s >= settle for s in since)
    waits = [min(settle, settle - s) for s in since if s < settle]
    if waits:
        decision.settling = max(decision.settling, min(waits))
    # the outdated ones serve until dropped; the new ones count once they are ready
    floor = max(0, target - unavailable)
    drop = max(0, min(len(old), new_ready + len(old) - floor))
    # not ready first, then the oldest: the instances that serve least go first
    order = sorted(old, key=lambda r: (r.state == InstanceState.READY, r.created_at))
    for rec in order[:drop]:
        decision.instructions.append(DropNode(
            infra_id=infra_id, instance_id=rec.instance_id, node_name=node.name,
            reason=ROLLOUT_DROP))
    left = len(old) - drop
    create = max(0, min(target - len(new), target + surge - (len(new) + left)))
    decision.event("node.replacing", node=node.name, creating=create,
                   dropping=[r.instance_id for r in order[:drop]], outdated=left,
                   max_surge=surge, max_unavailable=unavailable,
                   **({"settling": round(min(waits), 3)} if waits else {}))
    return create, drop
