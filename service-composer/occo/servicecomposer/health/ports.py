"""``ports``: a TCP connection to each listed port of the node can be opened."""

from __future__ import annotations

import asyncio
from typing import Any

from .base import HealthCheck, ProbeFailed

__all__ = ["PortsCheck", "port_number"]


def port_number(value: Any) -> int:
    """``value`` as a TCP port (an integer, or a string of digits, 1-65535)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a port number (1-65535)")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{value!r} is not a port number (1-65535)")
    return value


class PortsCheck(HealthCheck):
    """``ports: [80, 443]``: each port accepts a TCP connection."""

    key = "ports"

    def targets(self, value: Any, *, address: str) -> list[Any]:
        items = value if isinstance(value, (list, tuple)) else [value]
        out = []
        for i, item in enumerate(items):
            try:
                out.append(port_number(item))
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None
        return out

    async def probe(self, address: str, target: Any, timeout: float, state: Any) -> str:
        try:
            _, writer = await asyncio.open_connection(address, int(target))
        except ConnectionRefusedError as exc:
            raise ProbeFailed("connection refused") from exc
        except OSError as exc:
            raise ProbeFailed(exc.strerror or str(exc)) from exc
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass  # the peer may reset a connection it never meant to serve
        return "accepts connections"
