#!/usr/bin/env python3
"""Benchmark of a whole build: OCCO's scheduler against an Occopus-style one, side by side.

The three-tier infrastructure (1 db, N app, 1 lb; app waits for db, lb for app) on the
dummy cloud with a 1 s create latency, so the critical path is 3 s. For each N:

- ``occo``: ``Occo.build`` through the real stack (compiler, SQLite store, enactor, the
  processor over the in-process transport, the service composer, the dummy cloud handler),
  with concurrency limits set above N and polling suited to a fast simulated cloud
  (``first_poll`` 0.02 s, ``poll_interval`` 0.05 s);
- ``level-barrier``: what Occopus did: create one topological level, poll its states every
  10 s until all are ready, then the next level (the same dummy cloud, called directly).

Reported per N: wall time, wall / critical path, orchestrator CPU ms per node, the peak
RSS growth per instance, and the ratio between the two schedulers. Each run happens in a
fresh child process. Run it with a Python that has occo-api installed::

    env/test/occo-api/bin/python tools/bench/bench_build.py [--sizes 100 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LATENCY = 1.0
LEVELS = 3


def write_description(directory: Path, n: int) -> Path:
    (directory / "infra.yaml").write_text(f"""infra_name: bench
nodes:
  - {{name: db, type: db_t}}
  - {{name: app, type: app_t, scaling: {{min: {n}, max: {n}}}}}
  - {{name: lb, type: lb_t}}
dependencies:
  - [app, db]
  - [lb, app]
""")
    impl = f"  - resource: {{type: dummy, create_latency: {LATENCY}}}\n"
    (directory / "node_definitions.yaml").write_text(
        "".join(f"'node_def:{t}':\n{impl}" for t in ("db_t", "app_t", "lb_t")))
    return directory / "infra.yaml"


def rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def run_occo(n: int, store: str) -> dict:
    from occo.api import Occo
    from occo.api.config import load_config

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        infra = write_description(tmp_path, n)
        (tmp_path / "occo.yaml").write_text(f"""
store: {{backend: {store}, path: {tmp_path / 'state.sqlite'}}}
clouds: {{dummy: {{store: memory}}}}
processing: {{max_parallel: {n + 10}, rate: 0, batch_size: 256, poll_interval: 0.05,
             first_poll: 0.02}}
""")
        with Occo(load_config(tmp_path / "occo.yaml")) as occo:
            occo.validate(infra)  # warm imports and plugin lookups outside the timing
            base_rss = current_rss_kb()
            cpu0, wall0 = time.process_time(), time.monotonic()
            result = occo.build(infra)
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            peak = rss_kb()
    total = n + 2
    assert result["status"] == "ready" and result["ready"] == total, result
    return {"wall": wall, "cpu_ms_per_node": cpu * 1000 / total,
            "rss_growth_kb_per_instance": max(0, peak - base_rss) / total}


def run_level_barrier(n: int, poll: float = 10.0) -> dict:
    """Occopus's way: one level at a time, readiness polled every ``poll`` seconds."""
    from occo.cloudhandler import CloudHandlerService
    from occo.util import new_id

    service = CloudHandlerService({"dummy": {}})
    levels = [("db", 1), ("app", n), ("lb", 1)]
    cpu0, wall0 = time.process_time(), time.monotonic()
    for node, count in levels:
        specs = [{"instance_id": new_id(), "infra_id": "bench", "node_name": node,
                  "node_type": node, "resource": {"type": "dummy", "create_latency": LATENCY}}
                 for _ in range(count)]
        refs = [r["ref"] for r in service.create_nodes(specs)]
        while True:
            time.sleep(poll)
            states = service.get_states(refs)
            if all(s["state"] == "running" for s in states.values()):
                break
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    return {"wall": wall, "cpu_ms_per_node": cpu * 1000 / (n + 2)}


def child(kind: str, n: int, store: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(n), store],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} N={n} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--no-barrier", action="store_true",
                        help="skip the level-barrier comparison (30 s per size)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n, store = args.child[0], int(args.child[1]), args.child[2]
        out = run_occo(n, store) if kind == "occo" else run_level_barrier(n)
        print(json.dumps(out))
        return
    critical = LATENCY * LEVELS
    print(f"three-tier build on the dummy cloud, create latency {LATENCY:g} s, critical path "
          f"{critical:g} s, store {args.store}, Python {sys.version.split()[0]}")
    header = (f"{'N':>6} {'occo wall':>10} {'x crit':>7} {'cpu ms/node':>12} "
              f"{'KB/instance':>12} {'barrier wall':>13} {'barrier/occo':>13}")
    print(header)
    for n in args.sizes:
        occo = child("occo", n, args.store)
        barrier = None if args.no_barrier else child("barrier", n, args.store)
        print(f"{n:>6} {occo['wall']:>9.2f}s {occo['wall'] / critical:>7.3f} "
              f"{occo['cpu_ms_per_node']:>12.3f} {occo['rss_growth_kb_per_instance']:>12.1f} "
              + (f"{barrier['wall']:>12.2f}s {barrier['wall'] / occo['wall']:>13.1f}"
                 if barrier else f"{'-':>13} {'-':>13}"), flush=True)


if __name__ == "__main__":
    main()
