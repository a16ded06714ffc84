"""Small cloud and service composer endpoints for the scheduler's own tests.

The processor's package does not depend on the cloud handlers or the service composer
(they are reached through endpoints), so its unit tests serve these over the real
in-process transport. They keep a log of every call, which the tests inspect: when each
node was created, how many calls were in flight, what the store held at that moment.
End-to-end builds on the real dummy, local and EC2 clouds are occo-api's tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Throttled(Exception):
    retryable = True


class BadImage(Exception):
    retryable = False


@dataclass
class Resource:
    instance_id: str
    node: str
    created: float
    latency: float
    fail: bool = False
    dropped: bool = False


@dataclass
class SimCloud:
    """A cloud where a node is running ``latency`` seconds after its create call."""

    latency: dict[str, float] = field(default_factory=dict)   # per node name
    default_latency: float = 0.02
    fail_nodes: dict[str, int] = field(default_factory=dict)   # node -> resources that fail
    throttle: dict[str, int] = field(default_factory=dict)     # node -> calls throttled first
    bad_image: set[str] = field(default_factory=set)
    drop_errors: int = 0                                        # drop calls that fail first
    on_create: Callable[[dict], None] | None = None
    call_delay: float = 0.0

    RPC_METHODS = ("create_nodes", "drop_nodes", "get_states", "get_addresses")

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.resources: dict[str, Resource] = {}
        self.created_order: list[tuple[float, str, str]] = []
        self.inflight = 0
        self.max_inflight = 0
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    def create_nodes(self, specs: list[dict]) -> list[dict]:
        self._count("create_nodes")
        with self.lock:
            self.inflight += len(specs)
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.call_delay:
                time.sleep(self.call_delay)
            return [self._create(spec) for spec in specs]
        finally:
            with self.lock:
                self.inflight -= len(specs)

    def _create(self, spec: dict) -> dict:
        iid, node = spec["instance_id"], spec["node_name"]
        if self.on_create:
            self.on_create(spec)
        with self.lock:
            if self.throttle.get(node, 0) > 0:
                self.throttle[node] -= 1
                return {"error": {"type": "Throttled", "message": "slow down",
                                  "retryable": True}}
            if node in self.bad_image:
                return {"error": {"type": "BadImage", "message": f"no image for {node}",
                                  "retryable": False}}
            if iid not in self.resources:  # idempotent on the instance id
                fail = self.fail_nodes.get(node, 0) > 0
                if fail:
                    self.fail_nodes[node] -= 1
                self.resources[iid] = Resource(iid, node, time.monotonic(),
                                               self.latency.get(node, self.default_latency), fail)
                self.created_order.append((time.monotonic(), node, iid))
        return {"ref": {"instance_id": iid, "type": "sim", "id": f"sim-{iid}"}}

    def get_states(self, refs: list[dict]) -> dict:
        self._count("get_states")
        now = time.monotonic()
        out = {}
        with self.lock:
            for ref in refs:
                res = self.resources.get(ref["instance_id"])
                if res is None or res.dropped:
                    out[ref["instance_id"]] = {"state": "missing"}
                elif now - res.created < res.latency:
                    out[ref["instance_id"]] = {"state": "pending"}
                else:
                    out[ref["instance_id"]] = {"state": "failed" if res.fail else "running"}
        return out

    def get_addresses(self, refs: list[dict]) -> dict:
        self._count("get_addresses")
        return {ref["instance_id"]: {"addresses": ["192.0.2.1"], "private_addresses": [],
                                     "checkable": False} for ref in refs}

    def drop_nodes(self, refs: list[dict]) -> list[dict]:
        self._count("drop_nodes")
        out = []
        with self.lock:
            for ref in refs:
                if self.drop_errors > 0:
                    self.drop_errors -= 1
                    out.append({"error": {"type": "CloudUnavailable", "message": "try later",
                                          "retryable": True}})
                    continue
                res = self.resources.get(ref["instance_id"])
                if res is not None:
                    res.dropped = True
                out.append({"ok": True})
        return out

    def alive(self) -> list[Resource]:
        with self.lock:
            return [r for r in self.resources.values() if not r.dropped]


class SimComposer:
    RPC_METHODS = ("resolve_many", "check_health")

    def __init__(self, broken_nodes: set[str] | None = None) -> None:
        self.broken_nodes = broken_nodes or set()

    def resolve_many(self, requests: list[dict]) -> list[dict]:
        out = []
        for req in requests:
            node = req["node"]["name"]
            if node in self.broken_nodes:
                out.append({"error": {"type": "TemplateError", "retryable": False,
                                      "message": f"undefined name in {node}'s template"}})
                continue
            out.append({"spec": {"instance_id": req["instance_id"], "infra_id": req["infra_id"],
                                 "node_name": node, "node_type": req["node"].get("type", ""),
                                 "resource": req["implementation"]["resource"]}})
        return out

    def check_health(self, targets: list[dict]) -> dict:
        return {t["instance_id"]: {"healthy": True} for t in targets}
