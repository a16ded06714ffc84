"""Loopback ports for test servers."""

from __future__ import annotations

import socket

from .waiting import wait_until

__all__ = ["free_port", "wait_for_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the kernel's pick; bind it soon)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 30.0,
                  alive: object = None, what: str | None = None) -> None:
    """Wait until ``host:port`` accepts a connection. ``alive`` (a ``subprocess.Popen``)
    is the server's process: if it exits first, the wait fails at once with its status."""
    def ready() -> bool:
        status = getattr(alive, "poll", lambda: None)()
        if status is not None:
            raise AssertionError(f"{what or f'the server on {host}:{port}'} exited with "
                                 f"status {status} before it accepted connections")
        return _accepts(host, port)

    wait_until(ready, timeout=timeout, interval=0.05,
               what=what or f"a server to accept connections on {host}:{port}")
