"""``dummy``: a simulated cloud for tests, benchmarks and demos without a cloud.

Resource keys (all optional besides ``type``; docs/cloudhandlers.rst):

- ``name``: the simulated cloud (endpoint ``dummy:<name>``, default ``dummy:default``);
- ``create_latency`` / ``drop_latency``: seconds from create to running and from drop to
  terminated (default 0);
- ``fail_rate``: chance that a node ends ``failed`` instead of ``running``;
- ``throttle_rate``: chance that a create or drop call is refused as throttled
  (:class:`~occo.cloudhandler.errors.Throttled`, retryable; nothing is created);
- ``capacity``: most nodes alive at once on this cloud (beyond: CapacityExceeded);
- ``seed``: makes failures (per instance id) and throttling (per call, in call order)
  reproducible;
- ``image`` / ``images``: the image asked for and the ones this cloud knows (an unknown
  image is :class:`~occo.cloudhandler.errors.ImageNotFound`).

States follow the clock (see :mod:`occo.cloudhandler._simcloud`): nothing runs per node.
Handler config (``dummy:`` in the service config): ``store`` = a SQLite file path that
several worker processes share; without it each service has its own in-memory cloud.
Addresses are simulated (198.18.0.0/15, the benchmarking range) and marked not
checkable: nothing listens there.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

from occo.util import CloudLimits, CredentialEntry, NodeSpec, OccoError

from ._simcloud import MemoryCloud, SimCloud, SimNode, SqliteCloud
from .base import Clock, CloudHandler, NodeAddresses, NodeStatus, ResourceState, about_node
from .errors import ImageNotFound, Throttled
from .schemas import DUMMY

__all__ = ["DummyCloudHandler"]

log = logging.getLogger(__name__)

_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
_SPAN = 1 << 17   # 198.18.0.0/15
_MISSING = NodeStatus(ResourceState.MISSING, "the dummy cloud has no such node")


def _unit(*parts: Any) -> float:
    """A number in [0, 1) that depends only on ``parts`` (stable across processes)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 18446744073709551616.0


class DummyCloudHandler(CloudHandler):
    """A simulated cloud whose node states are a pure function of time and seed."""

    type_name = "dummy"
    # a simulation bears anything; its nodes say when they will run (ref "ready_at")
    limits = CloudLimits(max_parallel=100_000, rate=0, batch_size=256, poll_interval=0.25,
                         first_poll=0.02)
    schema = DUMMY
    needs_credentials = False
    STATE_MAP = {"pending": ResourceState.PENDING, "running": ResourceState.RUNNING,
                 "failed": ResourceState.FAILED, "stopping": ResourceState.STOPPING,
                 "terminated": ResourceState.TERMINATED}
    _STATUS = {raw: NodeStatus(state, raw=raw) for raw, state in STATE_MAP.items()}

    def __init__(self, resource: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
                 auth: CredentialEntry | None = None, clock: Clock | None = None) -> None:
        super().__init__(resource, config=config, auth=auth, clock=clock)
        self.name = str(resource.get("name") or "default")
        store = self.config.get("store")
        self.cloud: SimCloud = SqliteCloud(store, self.name) if store else MemoryCloud(self.name)
        seed = resource.get("seed")
        self._rng = random.Random(f"{seed}|throttle" if seed is not None else None)
        self._default_seed = seed if seed is not None else random.getrandbits(64)

    @classmethod
    def endpoint_key(cls, resource: Mapping[str, Any]) -> str:
        return f"dummy:{resource.get('name') or 'default'}"

    # ------------------------------------------------------------------ helpers

    def _rate(self, resource: Mapping[str, Any], key: str, spec: NodeSpec | None = None) -> float:
        value = float(resource.get(key) or 0.0)
        if value > 1.0 and spec is not None:
            raise self.bad_resource(spec, f"resource.{key} must be a chance between 0 and 1, "
                                          f"got {value:g}")
        return value

    def _throttled(self, rate: float) -> bool:
        return rate > 0.0 and self._rng.random() < rate

    @staticmethod
    def _address(seq: int) -> str:
        return str(ipaddress.IPv4Address(_BASE + seq % _SPAN))

    def _ref(self, spec: NodeSpec, node: SimNode) -> dict[str, Any]:
        return self.make_ref(spec, f"dummy-{node.seq}", ready_at=node.ready_at)

    # --------------------------------------------------------------- operations

    def _new_node(self, spec: NodeSpec, now: float) -> SimNode:
        """The simulated node ``spec`` asks for (throttling and unknown images raise)."""
        res = spec.resource
        throttle = self._rate(res, "throttle_rate", spec)
        fail_rate = self._rate(res, "fail_rate", spec)
        if self._throttled(throttle):
            raise Throttled(f"the dummy cloud {self.name!r} throttled the request (simulated, "
                            f"throttle_rate {throttle:g}); nothing was created")
        images = res.get("images")
        if images is not None and res.get("image") not in images:
            raise ImageNotFound(f"the dummy cloud {self.name!r} has no image "
                                f"{res.get('image')!r}; it knows: {', '.join(images) or 'none'}")
        seed = res.get("seed", self._default_seed)
        tags = {**{str(k): str(v) for k, v in (res.get("tags") or {}).items()},
                **spec.occo_tags()}
        return SimNode(instance_id=spec.instance_id, infra_id=spec.infra_id,
                       node_name=spec.node_name, seq=0, created_at=now,
                       ready_at=now + float(res.get("create_latency") or 0.0),
                       fails=fail_rate > 0.0 and _unit(seed, spec.instance_id) < fail_rate,
                       drop_latency=float(res.get("drop_latency") or 0.0), tags=tags)

    def _create_node(self, spec: NodeSpec) -> dict[str, Any]:
        now = self.clock()
        stored, _new = self.cloud.create(self._new_node(spec, now), spec.resource.get("capacity"),
                                         now)
        return self._ref(spec, stored)

    def create_nodes(self, specs: Sequence[NodeSpec]) -> list[dict[str, Any] | OccoError]:
        """All of a batch in one write of the simulated cloud (a SQLite transaction)."""
        out: list[dict[str, Any] | OccoError] = [None] * len(specs)  # type: ignore[list-item]
        todo: list[tuple[int, NodeSpec, SimNode]] = []
        now = self.clock()
        for i, spec in enumerate(specs):
            try:
                spec = self.check_resource(spec)
                todo.append((i, spec, self._new_node(spec, now)))
            except OccoError as exc:
                out[i] = about_node(exc, spec.node_name, spec.infra_id, spec.instance_id)
        stored = self.cloud.create_many([(node, spec.resource.get("capacity"))
                                         for _, spec, node in todo], now) if todo else []
        for (i, spec, _), result in zip(todo, stored):
            out[i] = (about_node(result, spec.node_name, spec.infra_id, spec.instance_id)
                      if isinstance(result, OccoError) else self._ref(spec, result[0]))
        return out

    def _drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[OccoError | None]:
        out: list[OccoError | None] = []
        now = self.clock()
        for ref in refs:
            throttle = float((ref.get("resource") or {}).get("throttle_rate") or 0.0)
            if self._throttled(throttle):
                out.append(Throttled(f"the dummy cloud {self.name!r} throttled the drop "
                                     f"(simulated, throttle_rate {throttle:g})"))
                continue
            self.cloud.drop(str(ref["instance_id"]), now)
            out.append(None)
        return out

    def _get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeStatus]:
        now = self.clock()
        ids = [r["instance_id"] for r in refs]
        found = self.cloud.get_many(ids)
        statuses = self._STATUS
        out: dict[str, NodeStatus] = {}
        for iid in ids:
            node = found.get(iid)
            if node is None:
                out[iid] = _MISSING
                continue
            raw = node.state(now)
            if raw == "failed":
                out[iid] = NodeStatus(self.map_state(raw), "the simulated cloud failed this "
                                      "node (fail_rate)", raw=raw)
            else:
                out[iid] = statuses[raw]
        return out

    def _get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeAddresses]:
        now = self.clock()
        found = self.cloud.get_many(r["instance_id"] for r in refs)
        out: dict[str, NodeAddresses] = {}
        for iid, node in found.items():
            if node.alive(now):
                address = (self._address(node.seq),)
                out[iid] = NodeAddresses(address, address, checkable=False)
        return out

    def _list_nodes(self, infra_id: str) -> list[dict[str, Any]]:
        now = self.clock()
        out = []
        for node in self.cloud.by_infra(infra_id):
            if not node.alive(now):
                continue
            out.append({"instance_id": node.instance_id, "infra_id": node.infra_id,
                        "node_name": node.node_name, "type": self.type_name,
                        "endpoint": self.endpoint,
                        "resource": {"type": self.type_name, "name": self.name},
                        "resource_id": f"dummy-{node.seq}", "tags": dict(node.tags)})
        return out

    def close(self) -> None:
        self.cloud.close()

    # ------------------------------------------------------------- test helpers

    def tags_of(self, instance_id: str) -> dict[str, str] | None:
        """The tags a simulated node carries (what a real cloud would show)."""
        node = self.cloud.get_many([instance_id]).get(instance_id)
        return None if node is None else dict(node.tags)

