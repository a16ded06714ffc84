#!/usr/bin/env python3
"""Benchmark of occo.servicecomposer (issue 6).

Goals:

- ``render``: resolving 10,000 instances of one node type (resource rendered, the
  contextualisation built into user-data) takes under 1 ms per instance;
- ``health``: one health round over 1,000 local nodes, each checked on a TCP port,
  takes under 2 s.

Run it with a Python that has occo-servicecomposer installed, e.g. the package's test
env::

    env/test/service-composer/bin/python tools/bench/bench_servicecomposer.py [--json]

``render`` uses real Occopus-format node types, read with occo.util's loader as the
compiler would: from the Occopus tutorials when ``--tutorials DIR`` or ``$OCCO_TUTORIALS``
names them (the largest cloud-config, autoscaling-hadoop's slave with its private key and
six getip() calls; a puppet_solo node whose string template is validated as YAML; a
docker node), else from OCCO's own corpus (occo.util.testing: notebook-lab's kernel, a
cloud-config mapping with getprivip() and nested variables; gallery-puppet's web node,
puppet_solo with a string template; relay-docker's listener). Each instance is a
separate request mapping (decoded from JSON, as it arrives over RPC) with its own
instance id; the first
instance (compiling and caching the templates) is timed separately. ``health`` binds
1,000 listening sockets on distinct loopback addresses (127.0.x.y) and runs rounds of
port checks over them, reporting each round's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from occo.servicecomposer import HealthChecker, HealthConfig, MemoryLookup, ServiceComposer, Where
from occo.util import load_yaml_file
from occo.util.testing import CORPUS, TUTORIALS_SETTING, tutorials, tutorials_missing

#: (infrastructure directory, node) rendered from each corpus.
TUTORIAL_NODES = [("autoscaling-hadoop", "hadoop-slave"),
                  ("puppet-solo-wordpress", "puppet-solo-wp"), ("docker-ping", "ping-sender")]
CORPUS_NODES = [("notebook-lab", "kernel"), ("gallery-puppet", "gallery-web"),
                ("relay-docker", "listener")]


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _deep_merge(base[key], value) if key in base else value
        return out
    return over


def tutorial_request(tutorials: Path, name: str, node_name: str
                     ) -> tuple[MemoryLookup, dict[str, Any]]:
    """A resolve request for ``node_name`` of a tutorial, and a lookup where every node
    of the tutorial's infrastructure has one ready instance."""
    directory = tutorials / name
    infra = load_yaml_file(next(iter(sorted(directory.glob("infra*.yaml")))))
    defs = load_yaml_file(directory / "nodes" / "node_definitions.yaml")
    infra_id = f"bench-{name}"
    lookup = MemoryLookup()
    request = None
    for i, node in enumerate(infra["nodes"]):
        lookup.add(infra_id, node["name"], f"{node['name']}-1", addresses=[f"10.1.0.{i + 1}"],
                   private_addresses=[f"192.168.1.{i + 1}"])
        if node["name"] == node_name:
            request = {
                "instance_id": "", "infra_id": infra_id, "infra_name": infra["infra_name"],
                "user_id": infra.get("user_id"),
                "node": {"name": node["name"], "type": node["type"],
                         "variables": _deep_merge(infra.get("variables") or {},
                                                  node.get("variables") or {}),
                         "scaling": node.get("scaling") or {"min": 1, "max": 1}},
                "implementation": defs[f"node_def:{node['type']}"][0],
            }
    assert request is not None, node_name
    # as it arrives over RPC: plain JSON data
    return lookup, json.loads(json.dumps(request))


def bench_render(tutorials: Path, name: str, node: str, count: int) -> dict[str, Any]:
    lookup, template = tutorial_request(tutorials, name, node)
    encoded = json.dumps(template)
    requests = []
    for i in range(count):
        request = json.loads(encoded)
        request["instance_id"] = f"{node}-{i:06d}"
        requests.append(request)
    with ServiceComposer(lookup) as composer:
        start = time.perf_counter()
        first = composer.resolve(requests[0])
        first_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        for request in requests[1:]:
            spec = composer.resolve(request)
        total = time.perf_counter() - start
    per_ms = total / (count - 1) * 1000
    context = spec.context or {}
    size = len(context.get("user_data", "")) if context.get("type") == "cloudinit" else 0
    return {"tutorial": name, "node": node, "instances": count, "context": context.get("type"),
            "user_data_chars": size, "first_instance_ms": round(first_ms, 3),
            "per_instance_ms": round(per_ms, 4), "total_s": round(total, 3),
            "goal_ms": 1.0, "met": per_ms < 1.0 and first.instance_id == requests[0]["instance_id"]}


def bench_health(nodes: int, rounds: int) -> dict[str, Any]:
    sockets = []
    try:
        for i in range(nodes):
            sock = socket.socket()
            sock.bind((f"127.0.{10 + i // 250}.{1 + i % 250}", 0))
            sock.listen(8)
            sockets.append(sock)
        with HealthChecker(HealthConfig()) as checker:
            where = Where("bench", "bench_node", "bench", "health_check")
            plans = [checker.plan({"ping": False, "ports": [s.getsockname()[1]]},
                                  instance_id=f"n{i}", address=s.getsockname()[0], where=where)
                     for i, s in enumerate(sockets)]
            times, healthy = [], 0
            for _ in range(rounds):
                start = time.perf_counter()
                reports = checker.run(plans)
                times.append(time.perf_counter() - start)
                healthy = sum(r.healthy for r in reports)
                for sock in sockets:  # drain the accept queues for the next round
                    sock.setblocking(False)
                    while True:
                        try:
                            conn, _ = sock.accept()
                        except BlockingIOError:
                            break
                        conn.close()
    finally:
        for sock in sockets:
            sock.close()
    return {"nodes": nodes, "rounds": rounds, "healthy_in_last_round": healthy,
            "round_s": [round(t, 3) for t in times], "best_s": round(min(times), 3),
            "median_s": round(statistics.median(times), 3), "goal_s": 2.0,
            "met": max(times) < 2.0 and healthy == nodes}


def bench_ping(nodes: int, rounds: int) -> dict[str, Any]:
    """Informational: one ICMP echo per node to distinct loopback addresses."""
    with HealthChecker(HealthConfig()) as checker:
        where = Where("bench", "bench_node", "bench", "health_check")
        try:
            plans = [checker.plan({"ping": True}, instance_id=f"n{i}",
                                  address=f"127.0.{10 + i // 250}.{1 + i % 250}", where=where)
                     for i in range(nodes)]
        except Exception as exc:  # this host cannot ping: report, do not fail the bench
            return {"nodes": nodes, "unavailable": str(exc)}
        times, healthy = [], 0
        for _ in range(rounds):
            start = time.perf_counter()
            reports = checker.run(plans)
            times.append(time.perf_counter() - start)
            healthy = sum(r.healthy for r in reports)
    return {"nodes": nodes, "round_s": [round(t, 3) for t in times],
            "median_s": round(statistics.median(times), 3), "healthy_in_last_round": healthy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tutorials", type=Path, default=None,
                        help=f"the Occopus tutorials directory (default: ${TUTORIALS_SETTING}; "
                             "without either, OCCO's own corpus is rendered)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.tutorials is not None:
        if not args.tutorials.is_dir():
            print(f"--tutorials {args.tutorials}: no such directory", file=sys.stderr)
            return 2
        root, nodes = args.tutorials, TUTORIAL_NODES
    elif tutorials() is not None:
        root, nodes = tutorials(), TUTORIAL_NODES
    else:
        if os.environ.get(TUTORIALS_SETTING):
            print(f"{tutorials_missing()}; rendering OCCO's own corpus", file=sys.stderr)
        root, nodes = CORPUS, CORPUS_NODES
    results = {
        "corpus": "occopus-tutorials" if nodes is TUTORIAL_NODES else "occo",
        "render": [bench_render(root, name, node, args.instances) for name, node in nodes],
        "health": bench_health(args.nodes, args.rounds),
        "ping": bench_ping(args.nodes, args.rounds),
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results["render"]:
            print(f"render {r['tutorial']}/{r['node']} ({r['context']}, "
                  f"{r['user_data_chars']} chars of user-data): {r['instances']} instances, "
                  f"{r['per_instance_ms']} ms each (first {r['first_instance_ms']} ms); "
                  f"goal < 1 ms: {'met' if r['met'] else 'MISSED'}")
        h = results["health"]
        print(f"health: {h['nodes']} local nodes on ports, rounds {h['round_s']} s "
              f"(best {h['best_s']}, median {h['median_s']}), healthy {h['healthy_in_last_round']}"
              f"; goal < 2 s: {'met' if h['met'] else 'MISSED'}")
        p = results["ping"]
        if "unavailable" in p:
            print(f"ping: not measured: {p['unavailable']}")
        else:
            print(f"ping (informational): {p['nodes']} local nodes, rounds {p['round_s']} s, "
                  f"healthy {p['healthy_in_last_round']}")
    ok = all(r["met"] for r in results["render"]) and results["health"]["met"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
