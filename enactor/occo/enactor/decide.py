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

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from occo.compiler import StaticDescription
from occo.infobroker import InstanceRecord, InstanceState, Intent, ScalingRequest
from occo.util import new_id
from occo.util.instructions import CreateNode, DropNode, Instruction

from .changes import outdated
from .config import MaintenanceConfig

__all__ = ["Decision", "decide", "apply_requests"]

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
           new_instance_id: Callable[[], str] = new_id) -> Decision:
    """Decide one pass for ``infra_id``. ``choose(node)`` picks an implementation."""
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
    for name, recs in by_node.items():
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
    missing: dict[str, tuple[int, int, int]] = {}
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
        excess = len(keep) - target
        if excess > 0:
            # youngest first; among equals, those not ready yet go first
            order = sorted(keep, key=lambda r: (r.state == InstanceState.READY, -r.created_at))
            for rec in order[:excess]:
                decision.instructions.append(DropNode(
                    infra_id=infra_id, instance_id=rec.instance_id, node_name=node.name,
                    reason=f"scale down to {target}"))
        missing[node.name] = (target - len(keep), len(keep), target)
    # creates wait only for the dependencies that will have instances
    for node in description:
        count, kept, target = missing.get(node.name, (0, 0, 0))
        if count <= 0:
            continue
        node_dict = node.to_dict()
        waits = tuple(d for d in description.dependencies_of(node.name) if wanted[d] > 0)
        impl_dicts: dict[int, dict] = {}
        reason = f"{kept} of {target} wanted"
        for _ in range(count):
            index, impl = choose(node)
            if index not in impl_dicts:
                impl_dicts[index] = impl.to_dict()
            decision.instructions.append(CreateNode(
                infra_id=infra_id, instance_id=new_instance_id(), node=node_dict,
                implementation=impl_dicts[index], waits_for=waits, reason=reason))
    decision.outdated, decision.unchanged = outdated(
        description, [r for recs in by_node.values() for r in recs],
        leaving={d.instance_id for d in decision.drops})
    return decision
