#!/usr/bin/env python3
"""Benchmark of the REST service: status reads by many concurrent clients during a build.

Goal (issue 8): report the latency of ``GET /infrastructures/<id>`` when 50 clients read
the status of an infrastructure while its build of some hundreds of dummy nodes runs.

The real service (Flask on waitress, ``rest.threads`` worker threads) runs in this process
on 127.0.0.1 with a SQLite state in a temporary directory and the dummy cloud in memory
(1 db, N app nodes waiting for it; create latency ``--latency`` s). ``--clients`` threads,
each with its own HTTP connection and the bearer token, read the status back to back from
the moment the build is accepted until it is ready (at most ``--max-requests`` each).
Reported: requests, p50 / p95 / p99 / max latency, requests per second, the build's wall
time, and how many status computations the reads shared (request coalescing).

Run it with a Python that has occo-api installed::

    env/test/occo-api/bin/python tools/bench/bench_rest.py [--sizes 300 1000] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def run(n: int, clients: int, latency: float, max_requests: int, threads: int) -> dict:
    from occo.api.config import load_config
    from occo.api.rest import RestService
    from occo.api.rest_state import import_definitions

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(root / "data")
        os.environ["XDG_CONFIG_HOME"] = str(root / "config")
        (root / "occo.yaml").write_text(f"""
store: {{backend: sqlite, path: {root / 'state.sqlite'}}}
clouds: {{dummy: {{store: memory}}}}
processing: {{max_parallel: {n + 10}, rate: 0, batch_size: 256, poll_interval: 0.05,
             first_poll: 0.05}}
rest: {{token_file: {root / 'token'}, threads: {threads}}}
""")
        (root / "nodes.yaml").write_text(
            f"'node_def:db_t':\n  - resource: {{type: dummy, create_latency: {latency}}}\n"
            f"'node_def:app_t':\n  - resource: {{type: dummy, create_latency: {latency}}}\n")
        service = RestService(load_config(root / "occo.yaml"), port=0)
        import_definitions(service.occo, [root / "nodes.yaml"])
        service.start()
        headers = {"Authorization": f"Bearer {service.token}"}
        try:
            admin = http.client.HTTPConnection("127.0.0.1", service.port, timeout=120)
            admin.request("POST", "/infrastructures/", headers=headers, body=(
                f"infra_name: bench\nnodes:\n  - {{name: db, type: db_t}}\n"
                f"  - {{name: app, type: app_t, scaling: {{min: {n}, max: {n}}}}}\n"
                "dependencies: [[app, db]]\n"))
            answer = admin.getresponse()
            infra_id = json.loads(answer.read())["infraid"]
            began = time.monotonic()
            samples: list[list[float]] = [[] for _ in range(clients)]
            done = threading.Event()
            errors: list[str] = []

            def reader(index: int) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=120)
                try:
                    for _ in range(max_requests):
                        if done.is_set():
                            return
                        t0 = time.perf_counter()
                        conn.request("GET", f"/infrastructures/{infra_id}", headers=headers)
                        response = conn.getresponse()
                        body = response.read()
                        samples[index].append(time.perf_counter() - t0)
                        if response.status != 200:
                            errors.append(f"{response.status}: {body[:200]!r}")
                            return
                finally:
                    conn.close()

            workers = [threading.Thread(target=reader, args=(i,)) for i in range(clients)]
            for worker in workers:
                worker.start()
            while True:
                admin.request("GET", f"/infrastructures/{infra_id}?format=occo",
                              headers=headers)
                status = json.loads(admin.getresponse().read())
                if status["status"] == "ready" and status["busy"] is None:
                    break
                if time.monotonic() - began > 600:
                    raise SystemExit("the build did not finish within 600 s")
                time.sleep(0.05)
            build_wall = time.monotonic() - began
            done.set()
            for worker in workers:
                worker.join()
            admin.close()
            if errors:
                raise SystemExit(f"errors: {errors[:5]}")
            reads = service.app.extensions["occo.reads"]
            flat = [x for per in samples for x in per]
            window = max(build_wall, 1e-9)
            return {"nodes": n + 1, "clients": clients, "requests": len(flat),
                    "p50_ms": statistics.median(flat) * 1000,
                    "p95_ms": percentile(flat, 95) * 1000,
                    "p99_ms": percentile(flat, 99) * 1000, "max_ms": max(flat) * 1000,
                    "requests_per_s": len(flat) / window, "build_wall_s": build_wall,
                    "computations": reads.computed, "served": reads.served}
        finally:
            service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000],
                        help="app nodes per build")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--latency", type=float, default=1.0, help="create latency, seconds")
    parser.add_argument("--max-requests", type=int, default=2000,
                        help="bound on the requests of one client")
    parser.add_argument("--threads", type=int, default=16, help="rest.threads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import logging
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" notes
    results = [run(n, args.clients, args.latency, args.max_requests, args.threads)
               for n in args.sizes]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"REST status reads during a build: {args.clients} clients, create latency "
          f"{args.latency:g} s, {args.threads} server threads, Python "
          f"{sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'nodes':>6} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'req/s':>7} {'build s':>8} {'shared':>7}")
    for r in results:
        print(f"{r['nodes']:>6} {r['requests']:>9} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} {r['requests_per_s']:>7.0f} "
              f"{r['build_wall_s']:>8.2f} {r['served'] / max(1, r['computations']):>6.1f}x")


if __name__ == "__main__":
    main()
