#!/usr/bin/env python3
"""Benchmark of occo.cloudhandler (issue 5).

Run it with a Python that has occo-cloudhandler and its test requirements (moto[server])
installed, e.g. the package's test env::

    env/test/cloud-handler/bin/python tools/bench/bench_cloudhandler.py [--json]
        [--dummy-nodes 10000] [--ec2-nodes 200] [--batch 200]

Two measurements, both through ``CloudHandlerService`` with JSON-able dicts, as the
infrastructure processor calls it (``create_nodes``, ``get_states``, ``get_addresses``,
``drop_nodes`` in batches):

- ``dummy``: N nodes created, polled until running, addressed, dropped, polled until
  terminated, on the in-memory simulated cloud (create latency 0, so the figure is the
  orchestrator side's own work). Reported: CPU seconds (``time.process_time``) per node
  for the whole cycle, and per phase. Goal: under 0.2 ms per node.
- ``ec2``: N instances on moto's EC2 server (started on a free loopback port): created,
  polled until running, addressed, dropped, polled until terminated. Reported: wall time,
  and EC2 API calls (and HTTP attempts) per node, by operation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from occo.cloudhandler import CloudHandlerService
from occo.util import new_id, parse_credentials
from occo.util.testing import start_moto

IMAGE = "ami-04681a1dbd79675a5"


def spec(resource: dict, infra_id: str, i: int) -> dict[str, Any]:
    return {"instance_id": new_id(), "infra_id": infra_id, "node_name": f"n{i % 50}",
            "node_type": "bench_node", "resource": resource, "context": None, "tags": {}}


def batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def poll(service: CloudHandlerService, refs: list[dict], wanted: set[str], batch: int,
         timeout: float, pause: float) -> int:
    """Poll states in batches until every ref is in ``wanted``; return the rounds made."""
    left = {r["instance_id"]: r for r in refs}
    rounds = 0
    deadline = time.monotonic() + timeout
    while left:
        rounds += 1
        for chunk in batches(list(left.values()), batch):
            states = service.get_states(chunk)
            for iid, status in states.items():
                if status["state"] in wanted:
                    left.pop(iid, None)
        if left:
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(left)} nodes never reached {sorted(wanted)}")
            time.sleep(pause)
    return rounds


def timed(phases: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    start = time.process_time()
    result = fn()
    phases[name] = time.process_time() - start
    return result


def bench_dummy(nodes: int, batch: int) -> dict[str, Any]:
    service = CloudHandlerService()
    infra = new_id()
    resource = {"type": "dummy", "name": "bench"}
    specs = [spec(resource, infra, i) for i in range(nodes)]
    phases: dict[str, float] = {}
    wall = time.perf_counter()
    cpu = time.process_time()
    refs: list[dict] = []

    def create() -> None:
        for chunk in batches(specs, batch):
            refs.extend(r["ref"] for r in service.create_nodes(chunk))

    timed(phases, "create", create)
    rounds = timed(phases, "states_running",
                   lambda: poll(service, refs, {"running"}, batch, 60, 0.0))
    timed(phases, "addresses", lambda: [service.get_addresses(c) for c in batches(refs, batch)])
    timed(phases, "drop", lambda: [service.drop_nodes(c) for c in batches(refs, batch)])
    timed(phases, "states_gone",
          lambda: poll(service, refs, {"terminated"}, batch, 60, 0.0))
    total_cpu = time.process_time() - cpu
    return {"nodes": nodes, "batch": batch, "poll_rounds_to_running": rounds,
            "cpu_s": round(total_cpu, 4), "wall_s": round(time.perf_counter() - wall, 4),
            "cpu_ms_per_node": round(total_cpu / nodes * 1000, 4),
            "phase_cpu_ms_per_node": {k: round(v / nodes * 1000, 4) for k, v in phases.items()},
            "goal_ms_per_node": 0.2, "met": total_cpu / nodes * 1000 < 0.2}


def bench_ec2(nodes: int, batch: int) -> dict[str, Any]:
    moto = start_moto()
    url = moto.url
    try:
        creds = parse_credentials({"resource": [{"type": "ec2", "auth_data": {
            "accesskey": "AKIABENCHMARK0000001", "secretkey": "bench-secret"}}]},
            source="bench")
        service = CloudHandlerService({}, creds)
        resource = {"type": "ec2", "endpoint": url, "regionname": "us-east-1",
                    "image_id": IMAGE, "instance_type": "t3.micro"}
        handler = service.handler_for(resource)
        infra = new_id()
        specs = [spec(resource, infra, i) for i in range(nodes)]
        refs: list[dict] = []
        wall = time.perf_counter()
        for chunk in batches(specs, batch):
            for result in service.create_nodes(chunk):
                if "error" in result:
                    raise SystemExit(f"create failed: {result['error']['text']}")
                refs.append(result["ref"])
        created = time.perf_counter() - wall
        rounds_up = poll(service, refs, {"running"}, batch, 300, 0.2)
        running = time.perf_counter() - wall
        found = {}
        for chunk in batches(refs, batch):
            found.update(service.get_addresses(chunk))
        assert len(found) == nodes
        for chunk in batches(refs, batch):
            for result in service.drop_nodes(chunk):
                if "error" in result:
                    raise SystemExit(f"drop failed: {result['error']['text']}")
        rounds_down = poll(service, refs, {"terminated"}, batch, 300, 0.2)
        total = time.perf_counter() - wall
        calls = dict(handler.calls)
        attempts = dict(handler.attempts)
        return {"nodes": nodes, "batch": batch, "wall_s": round(total, 3),
                "wall_s_to_all_created": round(created, 3),
                "wall_s_to_all_running": round(running, 3),
                "poll_rounds_to_running": rounds_up, "poll_rounds_to_terminated": rounds_down,
                "api_calls": calls, "api_calls_per_node": round(sum(calls.values()) / nodes, 3),
                "http_attempts_per_node": round(sum(attempts.values()) / nodes, 3)}
    finally:
        moto.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dummy-nodes", type=int, default=10_000)
    parser.add_argument("--ec2-nodes", type=int, default=200)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--skip-ec2", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                       "cpus": os.cpu_count(), "platform": platform.platform()},
                           "dummy": bench_dummy(args.dummy_nodes, args.batch)}
    if not args.skip_ec2:
        out["ec2"] = bench_ec2(args.ec2_nodes, args.batch)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        d = out["dummy"]
        print(f"dummy: {d['nodes']} nodes create+poll+address+drop+poll: "
              f"{d['cpu_ms_per_node']:.4f} ms CPU per node (goal < 0.2 ms: "
              f"{'met' if d['met'] else 'NOT met'}); phases {d['phase_cpu_ms_per_node']}")
        if "ec2" in out:
            e = out["ec2"]
            print(f"ec2 (moto): {e['nodes']} nodes created->running->dropped->terminated in "
                  f"{e['wall_s']:.2f} s wall (running after {e['wall_s_to_all_running']:.2f} s);"
                  f" {e['api_calls_per_node']} EC2 API calls per node "
                  f"({e['http_attempts_per_node']} HTTP requests): {e['api_calls']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
