#!/usr/bin/env python3
"""Benchmark of occo.util.comm: RPC round trips per second, in-process and through RabbitMQ.

Goal (issue 9): report the RPC rate through RabbitMQ against in-process, with the same
handler, measured side by side in one run.

Run it with a Python that has occo-util installed, e.g. the package's test env::

    env/test/util/bin/python tools/bench/bench_comm.py [--calls N] [--json]

For each transport it serves one ``bench`` endpoint (handler: ``echo(value)`` returning
its argument, a JSON object of about ``--payload`` bytes, shaped like a node spec) and
measures, after ``--warmup`` calls:

- ``sequential``: ``--calls`` calls one after the other (``Client.call``): round trips per
  second and the median and 99th percentile latency;
- ``window W``: ``--calls`` calls with up to W in flight at once (``Client.submit``; a
  new call is submitted when one completes), for each W of ``--windows``: calls per
  second.

Transports: ``inprocess`` (the default transport), ``inprocess+json`` (the same, every
message round-tripped through JSON, as the contract tests run it) and ``amqp`` (the
RabbitMQ at ``--url``, queues under a fresh prefix that are deleted afterwards; the
server and the client are two connections of the same process, and the server's worker
pool has ``--concurrency`` threads, which is also its prefetch).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
import uuid

from occo.util.comm import AmqpTransport, InProcessTransport, Transport


class Echo:
    RPC_METHODS = ("echo",)

    def echo(self, value: dict) -> dict:
        return value


def payload(size: int) -> dict:
    """A JSON object of about ``size`` bytes, shaped like a node spec."""
    base = {"infra_id": str(uuid.uuid4()), "instance_id": str(uuid.uuid4()), "node": "app",
            "resource": {"type": "dummy", "image": "app-image-1", "flavor": "m1.small"},
            "tags": {"occo:node": "app", "team": "web"}, "context": ""}
    filler = max(0, size - len(json.dumps(base)))
    base["context"] = "x" * filler
    return base


def sequential(client, value: dict, calls: int) -> dict:
    latencies = []
    start = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        client.call("echo", value=value, timeout=30)
        latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    latencies.sort()
    return {"calls": calls, "seconds": round(wall, 4), "per_second": round(calls / wall, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 3),
            "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 3)}


def windowed(client, value: dict, calls: int, window: int) -> dict:
    slots = threading.Semaphore(window)
    done = threading.Event()
    lock = threading.Lock()
    state = {"left": calls, "errors": 0}

    def finished(future) -> None:
        if future.exception() is not None:
            state["errors"] += 1
        slots.release()
        with lock:
            state["left"] -= 1
            if state["left"] == 0:
                done.set()

    start = time.perf_counter()
    for _ in range(calls):
        slots.acquire()
        client.submit("echo", value=value).add_done_callback(finished)
    if not done.wait(300):
        raise RuntimeError(f"window {window}: calls did not finish within 300 s")
    wall = time.perf_counter() - start
    if state["errors"]:
        raise RuntimeError(f"window {window}: {state['errors']} calls failed")
    return {"calls": calls, "window": window, "seconds": round(wall, 4),
            "per_second": round(calls / wall, 1)}


def measure(name: str, transport: Transport, args: argparse.Namespace) -> dict:
    transport.serve("bench", Echo(), concurrency=args.concurrency)
    client = transport.client("bench")
    value = payload(args.payload)
    for _ in range(args.warmup):
        assert client.call("echo", value=value, timeout=30) == value
    out = {"transport": name, "sequential": sequential(client, value, args.calls)}
    out["windows"] = [windowed(client, value, args.calls, w) for w in args.windows]
    return out


def delete_queues(url: str, prefix: str) -> None:
    import pika
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for queue in (f"{prefix}.bench", f"{prefix}.bench.dead"):
        channel.queue_delete(queue)
    connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get(
        "OCCO_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--payload", type=int, default=512, help="bytes per message body")
    parser.add_argument("--windows", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--concurrency", type=int, default=8,
                        help="server worker threads (and amqp prefetch)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()

    results = []
    with InProcessTransport() as t:
        results.append(measure("inprocess", t, args))
    with InProcessTransport(check_json=True) as t:
        results.append(measure("inprocess+json", t, args))
    prefix = f"occobench-{uuid.uuid4().hex[:10]}"
    transport = AmqpTransport(args.url, prefix=prefix, rpc_timeout=60)
    try:
        results.append(measure("amqp", transport, args))
    finally:
        transport.close()
        delete_queues(args.url, prefix)

    report = {"python": platform.python_version(), "machine": platform.machine(),
              "cpus": os.cpu_count(), "calls": args.calls, "payload_bytes": args.payload,
              "server_concurrency": args.concurrency, "results": results}
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(f"occo.util.comm RPC benchmark: {args.calls} calls per row, ~{args.payload} B "
          f"payload, server concurrency {args.concurrency}, Python "
          f"{report['python']}, {report['cpus']} CPUs")
    print(f"{'transport':<16}{'mode':<14}{'calls/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for r in results:
        s = r["sequential"]
        print(f"{r['transport']:<16}{'sequential':<14}{s['per_second']:>12,.0f}"
              f"{s['p50_ms']:>10.3f}{s['p99_ms']:>10.3f}")
        for w in r["windows"]:
            print(f"{'':<16}{'window ' + str(w['window']):<14}{w['per_second']:>12,.0f}")
    amqp = next(r for r in results if r["transport"] == "amqp")
    local = next(r for r in results if r["transport"] == "inprocess")
    print(f"amqp / inprocess (sequential): "
          f"{amqp['sequential']['per_second'] / local['sequential']['per_second']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
