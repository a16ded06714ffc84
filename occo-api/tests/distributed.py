"""Running OCCO as several processes: Redis state, RabbitMQ transport, `occo worker`s.

Everything a test makes is named after a prefix of its own (Redis keys, RabbitMQ queues),
and removed afterwards; workers are real `occo worker` subprocesses.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from e2e import Setup

from occo.util import new_id

REDIS = "redis://127.0.0.1:6379/0"
AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass
class Cluster:
    """One OCCO set-up spread over processes, and what it made on Redis and RabbitMQ."""

    setup: Setup
    prefix: str
    workers: dict[str, list[subprocess.Popen]] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, *, amqp_url: str = AMQP, **sections) -> Cluster:
        prefix = f"occotest-{new_id()[:8]}"
        root.mkdir(parents=True, exist_ok=True)
        setup = Setup(root)
        setup.write_config(
            store={"backend": "redis", "url": REDIS, "prefix": prefix},
            transport={"backend": "amqp", "url": amqp_url, "prefix": prefix,
                       "rpc_timeout": 300, "reconnect_timeout": 60, "prefetch": 4},
            **sections)
        return cls(setup, prefix)

    def start(self, endpoint: str, count: int = 1) -> list[subprocess.Popen]:
        started = [self.setup.spawn("worker", endpoint) for _ in range(count)]
        for proc in started:  # ready once it says it serves
            line = proc.stdout.readline()
            assert f"serving {endpoint}" in line, (line, proc.stderr.read()
                                                   if proc.poll() is not None else "")
        self.workers.setdefault(endpoint, []).extend(started)
        return started

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop(self) -> None:
        for procs in self.workers.values():
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
        for procs in self.workers.values():
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
                for stream in (proc.stdout, proc.stderr):
                    if stream:
                        stream.close()

    def cleanup(self) -> None:
        """Remove this test's Redis keys and RabbitMQ queues."""
        import pika
        import redis
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        conn = pika.BlockingConnection(pika.URLParameters(AMQP))
        channel = conn.channel()
        for endpoint in ("cloudhandler", "servicecomposer", "infraprocessor"):
            for queue in (f"{self.prefix}.{endpoint}", f"{self.prefix}.{endpoint}.dead"):
                channel.queue_delete(queue)
        conn.close()

    def queues_left(self) -> list[str]:
        out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name"],
                             capture_output=True, text=True)
        return [q for q in out.stdout.split() if q.startswith(self.prefix)]

    def redis_keys_left(self) -> int:
        import redis
        client = redis.Redis.from_url(REDIS)
        try:
            return sum(1 for _ in client.scan_iter(match=f"{self.prefix}:*", count=1000))
        finally:
            client.close()


__all__ = ["Cluster"]
