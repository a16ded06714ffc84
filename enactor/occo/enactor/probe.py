"""Bring instance records up to date before a decision: is each node still there, and
healthy? One state call per cloud endpoint and batched health checks per pass."""

from __future__ import annotations

import logging
import time
from typing import Any, Mapping

from occo.infobroker import Event, InstanceRecord, InstanceState, Intent, Store
from occo.util.comm import Client
from occo.util.instance_request import RequestBuilder, scaling_secret

__all__ = ["Probe"]

log = logging.getLogger(__name__)

GONE = {"missing": "vanished: the cloud no longer has it", "terminated": "terminated",
        "failed": "the cloud reports it failed", "stopped": "stopped", "stopping": "stopping"}


class Probe:
    """Refreshes the state of an infrastructure's created instances."""

    def __init__(self, store: Store, *, cloud: Client, composer: Client,
                 timeout: float = 120.0) -> None:
        self.store, self.cloud, self.composer = store, cloud, composer
        self.timeout = timeout

    def refresh(self, infra_id: str, description: Mapping[str, Any]) -> list[InstanceRecord]:
        """Update states, failure timers and events; return the fresh records."""
        records = self.store.list_instances(infra_id)
        created = [r for r in records if r.intent == Intent.CREATED and r.resource
                   and r.state != InstanceState.FAILED]
        if not created:
            return records
        now = time.time()
        states = self.cloud.call("get_states", refs=[r.resource for r in created],
                                 timeout=self.timeout)
        changes: dict[str, dict[str, Any]] = {}
        events: list[Event] = []
        running = []
        for rec in created:
            status = states.get(rec.instance_id) or {"state": "unknown"}
            state = status.get("state")
            if state in GONE:
                detail = status.get("detail")
                reason = GONE[state] + (f" ({detail})" if detail else "")
                changes[rec.instance_id] = {"state": InstanceState.FAILED,
                                            "failure": {"reason": reason, "since": now}}
                events.append(Event(type="node.failed", infra_id=infra_id,
                                    node_name=rec.node_name, instance_id=rec.instance_id,
                                    time=now, details={"reason": reason}))
            elif state == "running":
                running.append(rec)
        checkable = [r for r in running if (r.resource or {}).get("checkable", True)]
        results = {}
        if checkable:
            requests = RequestBuilder(description, infra_id,
                                      scaling_secret=scaling_secret(self.store, infra_id))
            results = self.composer.call("check_health", timeout=self.timeout, targets=[
                {"instance_id": r.instance_id, "addresses": r.addresses,
                 "private_addresses": r.private_addresses,
                 "request": requests.request(r.node_name, r.instance_id, r.implementation)}
                for r in checkable])
        timers = self.store.get_failure_timers(infra_id)
        for rec in running:
            healthy = rec not in checkable or (results.get(rec.instance_id) or {}).get("healthy")
            if healthy:
                if rec.state != InstanceState.READY:
                    changes[rec.instance_id] = {"state": InstanceState.READY, "failure": None}
                    events.append(Event(type="node.recovered", infra_id=infra_id,
                                        node_name=rec.node_name, instance_id=rec.instance_id,
                                        time=now, details={}))
                if rec.instance_id in timers:
                    self.store.clear_failure_timer(infra_id, rec.instance_id)
            else:
                detail = (results.get(rec.instance_id) or {}).get("detail", "")
                since = self.store.start_failure_timer(infra_id, rec.instance_id, now)
                if rec.state != InstanceState.UNHEALTHY:
                    changes[rec.instance_id] = {"state": InstanceState.UNHEALTHY,
                                                "failure": {"reason": f"unhealthy: {detail}",
                                                            "since": since}}
                    events.append(Event(type="node.unhealthy", infra_id=infra_id,
                                        node_name=rec.node_name, instance_id=rec.instance_id,
                                        time=now, details={"detail": detail}))
        if changes:
            for change in changes.values():
                change["updated_at"] = now
            self.store.update_instances(changes)
        if events:
            self.store.append_events(events)
        return self.store.list_instances(infra_id)
