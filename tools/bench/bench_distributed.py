#!/usr/bin/env python3
"""Benchmark of the distributed set-up against the in-process one, side by side.

The three-tier build of bench_build.py (1 db, N app, 1 lb on the dummy cloud, 1 s create
latency, critical path 3 s), run three ways with the same settings:

- ``in-process``: every endpoint inside the building process, SQLite state;
- ``in-process+redis``: the same with the state in Redis;
- ``rabbitmq+redis``: the building process serves nothing; four ``occo worker``
  processes (two cloud handlers, a service composer, a processor) do the work, with the
  state in Redis and the calls over RabbitMQ.

The dummy cloud keeps its state in a shared SQLite file in every variant (workers on one
machine must see one cloud). Target (issue 9): rabbitmq+redis within 1.3x of in-process.
Also reported: RPC round trips per second are in tools/bench/bench_comm.py.

    env/test/occo-api/bin/python tools/bench/bench_distributed.py [--nodes 1000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_build import LATENCY, LEVELS, write_description  # noqa: E402


def config(directory: Path, n: int, store: str, transport: str, prefix: str) -> Path:
    path = directory / f"{store}-{transport}.yaml"
    store_section = (f"{{backend: redis, url: 'redis://127.0.0.1:6379/0', prefix: {prefix}}}"
                     if store == "redis" else
                     f"{{backend: sqlite, path: {directory / 'state.sqlite'}}}")
    transport_section = (f"{{backend: amqp, url: 'amqp://guest:guest@127.0.0.1:5672/%2F', "
                         f"prefix: {prefix}, prefetch: 8}}" if transport == "amqp"
                         else "{backend: inprocess}")
    path.write_text(f"""
store: {store_section}
transport: {transport_section}
clouds: {{dummy: {{store: {directory / (prefix + '-dummy.sqlite')}}}}}
processing: {{max_parallel: {n + 10}, rate: 0, batch_size: 64, poll_interval: 0.05,
             first_poll: 0.05}}
""")
    return path


def cleanup(prefix: str) -> None:
    import pika
    import redis
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    conn = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
    channel = conn.channel()
    for endpoint in ("cloudhandler", "servicecomposer", "infraprocessor"):
        for queue in (f"{prefix}.{endpoint}", f"{prefix}.{endpoint}.dead"):
            channel.queue_delete(queue)
    conn.close()


def timed_build(config_file: Path, infra: Path, n: int) -> float:
    from occo.api import Occo, load_config
    with Occo(load_config(config_file)) as occo:
        occo.validate(infra)
        start = time.monotonic()
        result = occo.build(infra)
        wall = time.monotonic() - start
        assert result["status"] == "ready" and result["ready"] == n + 2, result
        occo.destroy(result["infra_id"])
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    args = parser.parse_args()
    n = args.nodes
    occo = str(Path(sys.executable).parent / "occo")
    critical = LATENCY * LEVELS
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")  # the store's key file
        os.environ["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
        infra = write_description(tmp_path, n)
        for name, store, transport in (("in-process", "sqlite", "inprocess"),
                                       ("in-process+redis", "redis", "inprocess"),
                                       ("rabbitmq+redis", "redis", "amqp")):
            prefix = f"bench-{os.getpid()}-{store}-{transport}"
            path = config(tmp_path, n, store, transport, prefix)
            workers = []
            try:
                if transport == "amqp":
                    for endpoint in ("cloudhandler", "cloudhandler", "servicecomposer",
                                     "infraprocessor"):
                        proc = subprocess.Popen([occo, "--config", str(path), "worker",
                                                 endpoint], stdout=subprocess.PIPE,
                                                text=True, start_new_session=True)
                        assert "serving" in proc.stdout.readline()
                        workers.append(proc)
                results[name] = timed_build(path, infra, n)
            finally:
                for proc in workers:
                    os.killpg(proc.pid, signal.SIGTERM)
                for proc in workers:
                    proc.wait(60)
                if store == "redis":
                    cleanup(prefix)
    base = results["in-process"]
    print(f"three-tier build, N={n} app nodes, dummy cloud (shared SQLite), create latency "
          f"{LATENCY:g} s, critical path {critical:g} s")
    for name, wall in results.items():
        print(f"  {name:18s} {wall:6.2f} s  {wall / critical:5.2f}x critical path  "
              f"{wall / base:5.2f}x in-process")


if __name__ == "__main__":
    main()
