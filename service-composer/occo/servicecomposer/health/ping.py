"""``ping``: the node answers an ICMP echo request.

A fresh machine has no ``ping`` binary, so the check does not rely on one. In order of
preference it uses

1. an unprivileged ICMP datagram socket (allowed when the process's group is in
   ``net.ipv4.ping_group_range``),
2. a raw ICMP socket (root or CAP_NET_RAW),
3. the ``ping`` binary, if installed,

through icmplib for the sockets. Which one works is found once per process, when the
check is first planned; if none does, planning a ping check fails with an error that
says what to change.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import threading
from pathlib import Path
from typing import Any

from icmplib import ICMPLibError, ICMPv4Socket, SocketPermissionError, async_ping

from ..errors import HealthCheckUnavailableError
from .base import HealthCheck, ProbeFailed

__all__ = ["PingCheck", "ping_method"]

_lock = threading.Lock()
_method: str | None = None


def _group_range() -> str:
    try:
        return Path("/proc/sys/net/ipv4/ping_group_range").read_text().split("\n")[0]
    except OSError:
        return "unknown"


def ping_method(*, refresh: bool = False) -> str:
    """``"datagram"``, ``"raw"`` or ``"binary"``: how this process can ping.

    Raises :class:`HealthCheckUnavailableError` if it cannot.
    """
    global _method
    with _lock:
        if _method is not None and not refresh:
            return _method
        for method, privileged in (("datagram", False), ("raw", True)):
            try:
                ICMPv4Socket(privileged=privileged).close()
            except (SocketPermissionError, OSError, ICMPLibError):
                continue
            _method = method
            return method
        if shutil.which("ping"):
            _method = "binary"
            return _method
    raise HealthCheckUnavailableError(
        "the ping health check cannot run on this host: unprivileged ICMP sockets are not "
        f"allowed (net.ipv4.ping_group_range is {_group_range()!r}; widen it to include "
        "this process's group), raw ICMP sockets need root or CAP_NET_RAW, and there is no "
        "ping binary (install iputils-ping). Or use 'ping: false' and a ports check")


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "off", "0", ""):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


class PingCheck(HealthCheck):
    """``ping: true`` (the default): one ICMP echo request is answered."""

    key = "ping"

    def ensure_available(self) -> None:
        ping_method()

    def targets(self, value: Any, *, address: str) -> list[Any]:
        return [address] if _truthy(value) else []

    async def probe(self, address: str, target: Any, timeout: float, state: Any) -> str:
        method = ping_method()
        if method == "binary":
            return await self._binary(str(target), timeout)
        try:
            host = await async_ping(str(target), count=1, timeout=timeout,
                                    privileged=(method == "raw"))
        except ICMPLibError as exc:
            raise ProbeFailed(f"{type(exc).__name__}: {exc}") from exc
        if not host.is_alive:
            raise ProbeFailed(f"no echo reply within {timeout:g} s")
        return f"echo reply in {host.avg_rtt:.2f} ms"

    @staticmethod
    async def _binary(address: str, timeout: float) -> str:
        proc = await asyncio.create_subprocess_exec(
            "ping", "-n", "-c", "1", "-W", str(max(1, math.ceil(timeout))), address,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            code = await proc.wait()
        except asyncio.CancelledError:
            proc.kill()
            await proc.wait()
            raise
        if code != 0:
            raise ProbeFailed(f"no echo reply (ping exit status {code})")
        return "echo reply"
