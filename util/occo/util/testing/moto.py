"""moto's AWS API server (``moto_server``, from the ``moto[server]`` distribution) on a
loopback port, for tests and benchmarks that need a real EC2 API endpoint. moto is not
imported here: the server is the ``moto_server`` program beside the running Python."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .net import free_port, wait_for_port

__all__ = ["MotoServer", "start_moto"]


@dataclass
class MotoServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s)."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_moto(*, timeout: float = 60.0, env: Mapping[str, str] | None = None) -> MotoServer:
    """Start ``moto_server`` on a free 127.0.0.1 port; return once it accepts connections.
    ``env`` adds to the environment (e.g. ``INITIAL_NO_AUTH_ACTION_COUNT`` for IAM)."""
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.is_file():
        raise FileNotFoundError(f"{binary}: moto_server is not installed beside this Python "
                                f"(the test environment needs moto[server])")
    port = free_port()
    process = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)],
                               env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=timeout, alive=process, what="moto_server")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return MotoServer(f"http://127.0.0.1:{port}", port, process)
