#!/usr/bin/env python3
"""Benchmark of occo.infobroker's stores: 100,000 instance records written and read back.

Goals (issue 4, issue 23): report operations per second for sqlite, redis and postgresql;
the status query of one infrastructure with 10,000 instances takes under 100 ms.

Run it with a Python that has occo-infobroker installed, e.g. the package's test env::

    env/test/info-broker/bin/python tools/bench/bench_store.py [--records N] [--json]

For each backend (sqlite: a fresh file in a temporary directory, synchronous=FULL, as
used by default; redis: the Redis at --redis-url under a fresh key prefix, deleted
afterwards; postgresql: a fresh database on the server of --postgresql-url, dropped
afterwards) it measures:

- ``write``: ``add_instances`` of all records, in batches of ``--batch`` (each batch one
  transaction / one Lua script), spread over infrastructures of ``--per-infra`` instances;
- ``read_list``: ``list_instances`` of every infrastructure (all records read back and
  decoded into InstanceRecords);
- ``read_get``: ``get_instance`` of ``--sample`` single records;
- ``update_batch``: ``update_instances`` of every record (state and addresses), in batches;
- ``update_cas``: ``update_instance`` with ``expected_version`` of ``--sample`` records;
- ``status``: the status query of one infrastructure of ``--per-infra`` instances:
  ``list_instances`` and a count per node and state, as ``occo status`` does (best, median
  and worst of ``--repeat`` runs).

With ``--build N`` it also builds the three-tier infrastructure of bench_build.py (1 db,
N app, 1 lb, on the ``dummy`` cloud with 1 s create latency, so a critical path of 3 s)
through the real stack with the state in SQLite and then in PostgreSQL, in one run, and
reports each build's wall time and the status query of the built infrastructure (needs
occo-api installed, e.g. env/dev).

Each record has a realistic implementation (a resource section and a 2 KB cloud-init
template), shared by the instances of one node as the processor writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from occo.infobroker import (
    InfraRecord,
    InstanceRecord,
    InstanceState,
    RedisStore,
    SecretBox,
    SQLiteStore,
    Store,
)

NODES = ("db", "app", "lb")
TEMPLATE = "#cloud-config\nwrite_files:\n" + "".join(
    f"  - path: /etc/app/conf{n}.ini\n    content: |\n      host={{{{ getip('db') }}}}\n"
    f"      port=3306\n      name=app{n}\n" for n in range(24))


def implementation(node: str) -> dict:
    return {"type": node, "resource": {"type": "dummy", "endpoint": "http://cloud.example",
                                      "image": f"{node}-image-1", "flavor": "m1.small",
                                      "security_groups": ["default", node]},
            "contextualisation": {"type": "cloudinit", "context_template": TEMPLATE},
            "health_check": {"ports": [80, 443], "timeout": 600}}


def records(infra_id: str, count: int, start: float) -> list[InstanceRecord]:
    impls = {node: implementation(node) for node in NODES}
    out = []
    for n in range(count):
        node = "db" if n == 0 else ("lb" if n == 1 else "app")
        out.append(InstanceRecord(
            instance_id=f"{infra_id}-{n:06d}", infra_id=infra_id, node_name=node,
            implementation=dict(impls[node]), created_at=start + n * 1e-4,
            resource={"type": "dummy", "id": f"r-{n}", "endpoint": "http://cloud.example"}))
    return out


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(store: Store, args: argparse.Namespace) -> dict:
    infras = [f"bench-{n:03d}" for n in range((args.records + args.per_infra - 1)
                                               // args.per_infra)]
    per = {i: min(args.per_infra, args.records - k * args.per_infra)
           for k, i in enumerate(infras)}
    for infra_id in infras:
        store.create_infrastructure(InfraRecord(infra_id=infra_id, name=infra_id))
    batches = []
    for infra_id in infras:
        recs = records(infra_id, per[infra_id], 1_000_000.0)
        batches += [recs[i:i + args.batch] for i in range(0, len(recs), args.batch)]
    out: dict = {}

    def write() -> None:
        for batch in batches:
            store.add_instances(batch)
    seconds = timed(write)
    out["write"] = {"records": args.records, "seconds": seconds,
                    "ops_per_s": args.records / seconds}

    read_count = 0

    def read_list() -> None:
        nonlocal read_count
        for infra_id in infras:
            read_count += len(store.list_instances(infra_id))
    seconds = timed(read_list)
    assert read_count == args.records, read_count
    out["read_list"] = {"records": read_count, "seconds": seconds,
                        "ops_per_s": read_count / seconds}

    sample = [f"{infras[k % len(infras)]}-{(k * 7919) % per[infras[k % len(infras)]]:06d}"
              for k in range(args.sample)]
    seconds = timed(lambda: [store.get_instance(i) for i in sample])
    out["read_get"] = {"records": len(sample), "seconds": seconds,
                       "ops_per_s": len(sample) / seconds}

    def update_batch() -> None:
        for batch in batches:
            store.update_instances({r.instance_id: {"state": InstanceState.READY,
                                                    "addresses": ["10.0.0.1"]} for r in batch})
    seconds = timed(update_batch)
    out["update_batch"] = {"records": args.records, "seconds": seconds,
                           "ops_per_s": args.records / seconds}

    def update_cas() -> None:
        for instance_id in sample:
            rec = store.get_instance(instance_id)
            store.update_instance(instance_id, expected_version=rec.version, attempts=2)
    seconds = timed(update_cas)
    out["update_cas"] = {"records": len(sample), "seconds": seconds,
                         "ops_per_s": len(sample) / seconds, "note": "get + CAS update each"}

    target = infras[0]
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        recs = store.list_instances(target)
        counts = Counter((r.node_name, str(r.state)) for r in recs)
        times.append(time.perf_counter() - started)
    assert sum(counts.values()) == per[target]
    out["status"] = {"instances": per[target], "best_ms": min(times) * 1e3,
                     "median_ms": statistics.median(times) * 1e3, "worst_ms": max(times) * 1e3,
                     "goal_ms": 100.0}
    return out


def run_postgresql(args: argparse.Namespace, box: SecretBox) -> dict:
    import psycopg

    from occo.infobroker import PostgreSQLStore
    with fresh_database(args.postgresql_url.rstrip("/")) as url:
        store = PostgreSQLStore(url, secrets=box)
        try:
            result = run(store, args)
        finally:
            store.close()
        with psycopg.connect(url) as conn:
            result["database_mb"] = conn.execute(
                "SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
        return result


def fresh_database(server: str):
    """A context manager: the URL of a fresh database on ``server``, dropped afterwards."""
    import contextlib

    import psycopg

    @contextlib.contextmanager
    def database():
        name = f"occo_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server}/{name}"
        finally:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    return database()


def run_build(n: int, store: Store, tmp: Path) -> dict:
    """The three-tier build of bench_build.py with ``store`` as the state."""
    import importlib.util

    from occo.api import Occo
    from occo.api.config import load_config
    from occo.api.system import System

    spec = importlib.util.spec_from_file_location("bench_build",
                                                  Path(__file__).with_name("bench_build.py"))
    bench_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_build)
    work = tmp / f"build-{uuid.uuid4().hex[:6]}"
    work.mkdir()
    infra = bench_build.write_description(work, n)
    (work / "occo.yaml").write_text(f"""
clouds: {{dummy: {{store: memory}}}}
processing: {{max_parallel: {n + 10}, rate: 0, batch_size: 256, poll_interval: 0.05,
             first_poll: 0.02}}
""")
    config = load_config(work / "occo.yaml")
    with Occo(config, system=System(config, store=store)) as occo:
        occo.validate(infra)
        wall0 = time.monotonic()
        result = occo.build(infra)
        wall = time.monotonic() - wall0
        infra_id = result["infra_id"]
        statuses = []
        for _ in range(5):
            t0 = time.perf_counter()
            Counter((r.node_name, r.state) for r in store.list_instances(infra_id))
            statuses.append((time.perf_counter() - t0) * 1000)
    assert result["status"] == "ready" and result["ready"] == n + 2, result
    critical = bench_build.LEVELS * bench_build.LATENCY
    return {"instances": n + 2, "wall": wall, "ratio_to_critical_path": wall / critical,
            "status_median_ms": statistics.median(statuses)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--per-infra", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,redis,postgresql")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgresql-url", default="postgresql://postgres@127.0.0.1:5432",
                        help="the server (without a database): a fresh database is made on "
                             "it and dropped afterwards")
    parser.add_argument("--build", type=int, metavar="N",
                        help="also build the three-tier infrastructure with N app instances "
                             "with SQLite and with PostgreSQL state")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    report: dict = {"machine": {"python": platform.python_version(),
                                "platform": platform.platform(), "cpus": os.cpu_count()},
                    "records": args.records, "per_infra": args.per_infra, "batch": args.batch,
                    "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        box = SecretBox(Path(tmp) / "store.key")
        for backend in args.backends.split(","):
            if backend == "sqlite":
                path = Path(tmp) / "state.sqlite"
                store: Store = SQLiteStore(path, secrets=box)
                try:
                    report["backends"]["sqlite"] = run(store, args)
                    report["backends"]["sqlite"]["file_mb"] = path.stat().st_size / 2**20
                finally:
                    store.close()
            elif backend == "redis":
                store = RedisStore(args.redis_url, f"occo-bench-{uuid.uuid4().hex[:8]}",
                                   secrets=box)
                try:
                    report["backends"]["redis"] = run(store, args)
                finally:
                    store.purge()
                    store.close()
            elif backend == "postgresql":
                report["backends"]["postgresql"] = run_postgresql(args, box)
            else:
                parser.error(f"unknown backend {backend}")
        if args.build:
            from occo.infobroker import PostgreSQLStore
            builds = report["builds"] = {}
            store = SQLiteStore(Path(tmp) / "build.sqlite", secrets=box)
            try:
                builds["sqlite"] = run_build(args.build, store, Path(tmp))
            finally:
                store.close()
            with fresh_database(args.postgresql_url.rstrip("/")) as url:
                store = PostgreSQLStore(url, secrets=box)
                try:
                    builds["postgresql"] = run_build(args.build, store, Path(tmp))
                finally:
                    store.close()
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(f"{args.records:,} instance records ({args.per_infra:,} per infrastructure, "
          f"batches of {args.batch:,}); Python {report['machine']['python']}, "
          f"{report['machine']['cpus']} CPUs")
    for backend, result in report["backends"].items():
        print(f"\n{backend}:")
        for phase in ("write", "read_list", "read_get", "update_batch", "update_cas"):
            r = result[phase]
            print(f"  {phase:13s} {r['records']:>8,} records {r['seconds']:8.2f} s "
                  f"{r['ops_per_s']:>10,.0f} ops/s")
        s = result["status"]
        verdict = "met" if s["median_ms"] < s["goal_ms"] else "MISSED"
        print(f"  status of {s['instances']:,} instances: best {s['best_ms']:.1f} ms, median "
              f"{s['median_ms']:.1f} ms, worst {s['worst_ms']:.1f} ms "
              f"(goal < {s['goal_ms']:.0f} ms: {verdict})")
        if "file_mb" in result:
            print(f"  file size: {result['file_mb']:.1f} MB")
        if "database_mb" in result:
            print(f"  database size: {result['database_mb']:.1f} MB")
    for backend, b in report.get("builds", {}).items():
        print(f"\nbuild of {b['instances']:,} instances (db, {args.build:,} app, lb; critical "
              f"path 3 s) with {backend} state: {b['wall']:.2f} s "
              f"({b['ratio_to_critical_path']:.2f}x the critical path); status query "
              f"{b['status_median_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
