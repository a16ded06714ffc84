"""``occo worker <endpoint>``: serve one endpoint over the AMQP transport until stopped."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TextIO

from .config import Config
from .errors import UsageError
from .system import System

__all__ = ["run_worker"]


def run_worker(config: Config, endpoint: str, *, auth_data: str | Path | None = None,
               out: TextIO, stop: threading.Event | None = None) -> int:
    """Serve ``endpoint`` until SIGTERM/SIGINT (or ``stop``); return the exit status."""
    if config.transport["backend"] != "amqp":
        raise UsageError("occo worker serves an endpoint over the amqp transport; set "
                         "transport: {backend: amqp, url: amqp://...} in occo.yaml "
                         "(with the default in-process transport every endpoint already "
                         "runs inside the occo command)")
    stop = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        with System(config, auth_data=auth_data, serve=[endpoint]):
            out.write(f"occo worker: serving {endpoint}; stop with Ctrl-C or SIGTERM\n")
            out.flush()
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.write(f"occo worker: {endpoint} stopped\n")
    return 0
