"""What the REST service and the ``occopus-*`` commands read and predict, over the public
:class:`~occo.api.Occo` methods and the store.

- :func:`occopus_status`: an infrastructure's status in Occopus's shape (node name ->
  instances by id with ``resource_address`` and ``state``, and ``scaling``), with OCCO's
  fields added inside each node and instance entry, so that clients written for Occopus
  keep working and new ones see more.
- :func:`predict_scaling`: the target a queued scaling request will lead to, and the
  clamping warning if it leaves ``[min, max]``, computed from the description, the current
  target and the requests already queued, without acting (the maintenance pass applies it
  with the same rules, :func:`occo.enactor.apply_requests`).
- :func:`import_definitions`: store node definitions so that a later build compiles them
  again (only the sections that are present are stored).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from occo.compiler import Node, StaticDescription
from occo.enactor import Decision, apply_requests
from occo.infobroker import InstanceRecord, Intent, NotFound, ScalingRequest
from occo.util import suggestion

from .core import Occo
from .errors import NodeNotFound, UnknownInfrastructure

__all__ = ["occopus_status", "predict_scaling", "import_definitions",
           "description_of", "check_node", "queue_scaling", "QueuedScaling"]


def description_of(occo: Occo, infra_id: str) -> StaticDescription:
    """The stored, compiled description of ``infra_id`` (UnknownInfrastructure if none)."""
    try:
        record = occo.store.get_infrastructure(infra_id)
    except NotFound:
        raise UnknownInfrastructure(f"no infrastructure {infra_id!r} in the store "
                                    "(GET /infrastructures/ or occo list shows those there are)",
                                    infra_id=infra_id) from None
    return StaticDescription.from_dict(record.description)


def check_node(description: StaticDescription, infra_id: str, node: str) -> Node:
    """The node ``node`` of the description, or NodeNotFound."""
    if node not in description:
        raise NodeNotFound(f"infrastructure {infra_id} has no node {node!r}"
                           f"{suggestion(node, description.node_names)}", infra_id=infra_id,
                           node=node)
    return description.node(node)


def occopus_status(status: dict[str, Any]) -> dict[str, Any]:
    """Occopus's ``GET /infrastructures/<id>`` shape, from :meth:`Occo.status`."""
    out: dict[str, Any] = {}
    for node in status["nodes"]:
        instances = {}
        for inst in node["instances"]:
            addresses = inst["addresses"] or inst["private_addresses"] or []
            instances[inst["instance_id"]] = {
                "resource_address": addresses[0] if addresses else None,
                "state": inst["state"],
                "intent": inst["intent"],
                "addresses": inst["addresses"],
                "private_addresses": inst["private_addresses"],
                "created_at": inst["created_at"],
                "ready_at": inst["ready_at"],
                "failure": inst["failure"],
                "stored_state": inst["stored_state"],
                "confirmed_at": inst["confirmed_at"],
                "confirmed_by": inst["confirmed_by"],
            }
        out[node["name"]] = {"type": node["type"], "scaling": dict(node["scaling"]),
                             "instances": instances}
    return out


def _live(occo: Occo, infra_id: str, node: str) -> list[InstanceRecord]:
    return [r for r in occo.store.list_instances(infra_id, node) if r.intent != Intent.DROPPING]


def predict_scaling(occo: Occo, infra_id: str, node: str, request: ScalingRequest,
                    queued: Iterable[ScalingRequest] | None = None) -> dict[str, Any]:
    """Where ``node``'s target goes once ``request`` (after ``queued``) is applied.

    ``queued`` defaults to the requests waiting in the store now. Returns ``target`` (after
    clamping), ``requested`` (before), ``min``, ``max`` and ``warnings``.
    """
    description = description_of(occo, infra_id)
    spec = check_node(description, infra_id, node)
    smin, smax = spec.scaling.min, spec.scaling.max
    waiting = occo.store.peek_scaling_requests(infra_id) if queued is None else list(queued)
    start = occo.store.get_scaling_targets(infra_id).get(node, smin)
    mine = [r for r in waiting if r.node_name == node] + [request]
    requested, _ = apply_requests(start, _live(occo, infra_id, node), mine, Decision(), node)
    target = min(max(requested, smin), smax)
    warnings = []
    if target != requested:
        warnings.append(f"{node}: {requested} instances requested, clamped to {target} "
                        f"(min {smin}, max {smax})")
    return {"node": node, "before": start, "requested": requested, "target": target,
            "min": smin, "max": smax, "warnings": warnings}


@dataclass(frozen=True, slots=True)
class QueuedScaling:
    """A scaling request checked and its answer worked out, not yet written:
    :meth:`commit` queues it. A caller answers only after the write, and writes only once
    the answer is ready, so an error answer never leaves a request queued."""

    occo: Occo
    request: ScalingRequest
    result: dict[str, Any]

    def commit(self) -> dict[str, Any]:
        self.occo.store.push_scaling_request(self.request)
        return self.result


def queue_scaling(occo: Occo, infra_id: str, node: str, *, change: int | None = None,
                  to: int | None = None, remove: str | None = None) -> QueuedScaling:
    """A scaling request for the next maintenance pass, and what it will lead to.

    Unknown infrastructures, nodes and instances, and counts beyond the bounds, are
    refused at once (:meth:`Occo.scaling_request`). The result holds the ``request``, the
    predicted ``target`` (see :func:`predict_scaling`) and ``warnings``: the clamping, and
    a note when nothing maintains the infrastructure. Nothing is written until
    :meth:`QueuedScaling.commit`.
    """
    request = occo.scaling_request(infra_id, node, change=change, to=to, remove=remove,
                                   field="count")   # the path's <count>
    prediction = predict_scaling(occo, infra_id, node, request,
                                 occo.store.peek_scaling_requests(infra_id))
    maintained = occo.store.get_infrastructure(infra_id).maintained
    warnings = list(prediction.pop("warnings"))
    if not maintained:
        warnings.append(f"infrastructure {infra_id} is not maintained: the request waits "
                        "until a maintenance pass runs: attach it (POST /infrastructures/"
                        f"{infra_id}/attach), or run occopus-maintain -i {infra_id} or "
                        f"occo maintain -i {infra_id}")
    prediction.pop("node")
    return QueuedScaling(occo, request, {**prediction, "queued": True,
                                         "request": request.to_dict(),
                                         "maintained": maintained, "warnings": warnings})


def import_definitions(occo: Occo, paths: Sequence[str | Path]) -> dict[str, int]:
    """Check node definition files and store them; ``{type: implementations}``: one code
    path with ``occo import`` (:meth:`Occo.import_node_definitions`), so a resource type
    without a backend is refused here too before anything is stored."""
    return occo.import_node_definitions(paths)
