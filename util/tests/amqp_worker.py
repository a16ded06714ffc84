"""A worker process for the amqp fault tests: serves one endpoint until SIGTERM.

Usage: python amqp_worker.py URL PREFIX ENDPOINT MAX_REDELIVERIES MARKER_DIR

It prints ``ready <pid>`` once its consumer runs. Its handler's methods:

- ``whoami()``: this process's pid;
- ``slow(tag)``: the first worker to get ``tag`` writes ``MARKER_DIR/<tag>.<pid>`` and
  then waits (up to 60 s) to be killed; a later worker sees the marker, writes its own and
  answers at once, with its pid and the pids that had the request before;
- ``crash(tag)``: writes ``MARKER_DIR/<tag>.<pid>`` and kills this process with SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from occo.util.comm import AmqpTransport


class Handler:
    RPC_METHODS = ("whoami", "slow", "crash")

    def __init__(self, markers: Path) -> None:
        self.markers = markers

    def _seen(self, tag: str) -> list[int]:
        return sorted(int(p.suffix[1:]) for p in self.markers.glob(f"{tag}.*"))

    def _mark(self, tag: str) -> None:
        (self.markers / f"{tag}.{os.getpid()}").write_text("started\n")

    def whoami(self) -> int:
        return os.getpid()

    def slow(self, tag: str) -> dict:
        before = self._seen(tag)
        self._mark(tag)
        if not before:
            threading.Event().wait(60)  # killed long before this
        return {"pid": os.getpid(), "before": before}

    def crash(self, tag: str) -> None:
        self._mark(tag)
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    url, prefix, endpoint, redeliveries, markers = sys.argv[1:6]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    transport = AmqpTransport(url, prefix=prefix, max_redeliveries=int(redeliveries),
                              reconnect_timeout=10, close_grace=2)
    try:
        transport.serve(endpoint, Handler(Path(markers)), concurrency=1)
        print(f"ready {os.getpid()}", flush=True)
        stop.wait(120)
    finally:
        transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
