#!/usr/bin/env python3
"""Benchmark of the docker cloud handler (issue 11).

Run it with the cloud handler's test env, as root on a machine where the tests can
start a Docker engine (or with an engine at ``DOCKER_HOST``)::

    env/test/cloud-handler/bin/python tools/bench/bench_docker.py [--nodes 50]
        [--parallel 1 4 8] [--poll 0.1] [--json]

For each ``max_parallel`` value: N containers created (one ``create_nodes`` call, as
the processor sends a batch), polled until all run (``get_states`` every ``--poll``
seconds, one call for all), addressed, dropped (one ``drop_nodes``: stop, then remove)
and polled until gone, through ``CloudHandlerService`` with JSON-able dicts. Each run
uses a fresh service, so its counts include the one-off calls (API version, image
check). Reported: wall time per phase and in all, and Engine API requests per node, by
operation (counted by the handler's SDK client, every HTTP request it sends).

The engine and the image come from the tests' helper (cloud-handler/tests/dockerenv.py):
an engine already running is used, else (as root) Debian's docker.io is installed if
need be and ``dockerd`` started on a private socket, and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2] / "cloud-handler" / "tests"))

import dockerenv  # noqa: E402  (the tests' engine helper)

from occo.cloudhandler import CloudHandlerService  # noqa: E402
from occo.util import new_id  # noqa: E402


def spec(resource: dict, infra_id: str, i: int) -> dict[str, Any]:
    return {"instance_id": new_id(), "infra_id": infra_id, "node_name": f"n{i}",
            "node_type": "bench_node", "resource": resource, "tags": {},
            "context": {"type": "docker", "env": [f"INDEX={i}"],
                        "command": ["sh", "-c", "exec sleep 1000000"]}}


def poll(service: CloudHandlerService, refs: list[dict], wanted: set[str], pause: float,
         timeout: float = 300.0) -> int:
    rounds = 0
    deadline = time.monotonic() + timeout
    while True:
        rounds += 1
        states = service.get_states(refs)
        failed = [s for s in states.values() if s["state"] == "failed"]
        if failed:
            raise SystemExit(f"{len(failed)} containers failed: {failed[0]}")
        if all(s["state"] in wanted for s in states.values()):
            return rounds
        if time.monotonic() > deadline:
            raise SystemExit(f"not all containers reached {sorted(wanted)} in {timeout} s")
        time.sleep(pause)


def run(engine: dockerenv.Engine, nodes: int, parallel: int, pause: float) -> dict[str, Any]:
    service = CloudHandlerService({"docker": {"max_parallel": parallel, "stop_timeout": 10}})
    resource = engine.resource()
    handler = service.handler_for(resource)
    infra = new_id()
    specs = [spec(resource, infra, i) for i in range(nodes)]
    marks = {"start": time.perf_counter()}
    results = service.create_nodes(specs)
    errors = [r["error"]["text"] for r in results if "error" in r]
    if errors:
        raise SystemExit(f"{len(errors)} creates failed: {errors[0]}")
    refs = [r["ref"] for r in results]
    marks["created"] = time.perf_counter()
    rounds_up = poll(service, refs, {"running"}, pause)
    marks["running"] = time.perf_counter()
    found = service.get_addresses(refs)
    if len({a["addresses"][0] for a in found.values()}) != nodes:
        raise SystemExit("not every container has an address of its own")
    marks["addressed"] = time.perf_counter()
    dropped = service.drop_nodes(refs)
    if any("error" in d for d in dropped):
        raise SystemExit(f"drops failed: {[d for d in dropped if 'error' in d][:1]}")
    marks["dropped"] = time.perf_counter()
    rounds_down = poll(service, refs, {"missing"}, pause)
    marks["gone"] = time.perf_counter()
    calls = dict(sorted(handler.calls.items()))
    service.close()
    names = list(marks)
    phases = {f"{a}->{b}": round(marks[b] - marks[a], 3) for a, b in zip(names, names[1:])}
    return {"nodes": nodes, "max_parallel": parallel, "poll_interval_s": pause,
            "wall_s": round(marks["gone"] - marks["start"], 3), "phases_s": phases,
            "poll_rounds_to_running": rounds_up, "poll_rounds_to_gone": rounds_down,
            "api_calls": calls, "api_calls_total": sum(calls.values()),
            "api_calls_per_node": round(sum(calls.values()) / nodes, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between polls")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OCCO_TEST_DOCKER", "start")
    engine = dockerenv.provide(Path(tempfile.mkdtemp(prefix="occo-bench-docker-")),
                               say=lambda text: print(text, file=sys.stderr))
    if isinstance(engine, str):
        raise SystemExit(f"no Docker engine: {engine}")
    try:
        version = engine.client.version()
        out: dict[str, Any] = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "platform": platform.platform(),
                        "engine": f"Docker {version.get('Version')} (API "
                                  f"{version.get('ApiVersion')})",
                        "engine_started_here": engine.daemon is not None},
            "runs": [run(engine, args.nodes, p, args.poll) for p in args.parallel]}
    finally:
        engine.shutdown()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['machine']['engine']} on {out['machine']['cpus']} CPUs, Python "
          f"{out['machine']['python']}")
    for r in out["runs"]:
        print(f"docker: {r['nodes']} containers created, running, addressed, removed with "
              f"max_parallel {r['max_parallel']}: {r['wall_s']:.2f} s wall "
              f"({r['phases_s']}); {r['api_calls_per_node']} Engine API calls per node "
              f"({r['api_calls_total']} in all, {r['poll_rounds_to_running']} poll rounds to "
              f"running): {r['api_calls']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
