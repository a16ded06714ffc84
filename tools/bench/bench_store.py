#!/usr/bin/env python3
"""Benchmark of occo.infobroker's stores: 100,000 instance records written and read back.

Goals (issue 4): report operations per second for sqlite and redis; the status query of
one infrastructure with 10,000 instances takes under 100 ms on sqlite.

Run it with a Python that has occo-infobroker installed, e.g. the package's test env::

    env/test/info-broker/bin/python tools/bench/bench_store.py [--records N] [--json]

For each backend (sqlite: a fresh file in a temporary directory, synchronous=FULL, as
used by default; redis: the Redis at --redis-url under a fresh key prefix, deleted
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

from occo.infobroker import (InfraRecord, InstanceRecord, InstanceState, RedisStore, SecretBox,
                             SQLiteStore, Store)

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--per-infra", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
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
            else:
                parser.error(f"unknown backend {backend}")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
