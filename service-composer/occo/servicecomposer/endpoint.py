"""The ``servicecomposer`` endpoint: what the infrastructure processor and the enactor
call, with JSON-able arguments and results, in batches.

Per-item failures come back as data (``{"error": ...}``) so that one node's bad template
does not fail the other nodes of the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from occo.util.comm import ServiceComposerEndpoint, encode_error, methods_of

from .composer import ServiceComposer

__all__ = ["ComposerEndpoint", "OFFLINE_CHECKS"]

#: Checks that need no network path to the node: what a simulated node is checked for.
OFFLINE_CHECKS = frozenset({"synch_attrs"})


class ComposerEndpoint:
    """Serves a :class:`ServiceComposer` (and its lookup's per-batch cache)."""

    RPC_METHODS = methods_of(ServiceComposerEndpoint)

    def __init__(self, composer: ServiceComposer) -> None:
        self.composer = composer

    def _cached(self):
        cached = getattr(self.composer.lookup, "cached", None)
        return cached() if cached is not None else nullcontext()

    def config_managers(self) -> dict[str, Any]:
        """The config manager types here, and why OCCO refuses some of them outright:
        ``{"types": [...], "unsupported": {type: why}}`` (asked before a build)."""
        managers = self.composer.config_managers
        return {"types": managers.names(), "unsupported": managers.unsupported()}

    def resolve(self, request: Mapping[str, Any]) -> dict:
        """One node's NodeSpec as a dict (errors raise)."""
        return self.composer.resolve(request).to_dict()

    def resolve_many(self, requests: Sequence[Mapping[str, Any]]) -> list[dict]:
        """``[{"spec": ..., "used": ...} | {"error": ...}]`` in the order of ``requests``;
        ``used`` is what the templates read of other nodes (``{"getip('db')": ...}``)."""
        out: list[dict] = []
        with self._cached():
            for request in requests:
                try:
                    spec, used = self.composer.resolve_traced(request)
                    out.append({"spec": spec.to_dict(), "used": used})
                except Exception as exc:  # reported per node, as data
                    out.append({"error": encode_error(exc)})
        return out

    def check_health(self, targets: Sequence[Mapping[str, Any]]) -> dict[str, dict]:
        """One health round: ``{instance_id: {"healthy", "detail"[, "error"]}}``.

        Each target is ``{"instance_id", "request", "addresses", "private_addresses"}``
        and optionally ``"simulated": true`` (an address with nothing behind it: only
        :data:`OFFLINE_CHECKS` are run); the first public address (else the first
        private one) is the node's ``ip``.
        """
        out: dict[str, dict] = {}
        plans = []
        with self._cached():
            for target in targets:
                iid = target["instance_id"]
                address = next(iter(list(target.get("addresses") or []) +
                                    list(target.get("private_addresses") or [])), None)
                if address is None:
                    out[iid] = {"healthy": False, "detail": "the node has no address yet"}
                    continue
                try:
                    plan = self.composer.health_plan(target["request"], address)
                    if target.get("simulated"):  # nothing to probe on the network there
                        plan = replace(plan, checks=tuple(c for c in plan.checks
                                                          if c.kind in OFFLINE_CHECKS))
                    plans.append(plan)
                except Exception as exc:  # a wrong check: reported per node
                    out[iid] = {"healthy": False, "detail": str(exc),
                                "error": encode_error(exc)}
        for report in self.composer.health.run(plans):
            out[report.instance_id] = {"healthy": report.healthy, "detail": report.summary()}
        return out

    def config_ready(self, request: Mapping[str, Any], address: str) -> bool:
        return self.composer.config_ready(request, address)
