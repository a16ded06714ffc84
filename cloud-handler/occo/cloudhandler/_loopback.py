"""One loopback address per local node instance (127.x.y.z), never two alike.

Linux routes the whole of 127.0.0.0/8 to the loopback interface, so a process can listen
on 127.1.0.7 without any set-up, and each node gets its own address: ``getip('db')``,
port checks and URLs then behave as on a real cloud.

Addresses are handed out upwards from 127.N.0.1, where the block N (1..254) is chosen from
the root directory's path, so two roots on one machine (two users, a test run beside a
demo) start far apart; 127.0.0.0/16 is left alone (127.0.0.1, 127.0.0.53 of
systemd-resolved, 127.0.1.1 of Debian's /etc/hosts), and .0 and .255 are skipped. They are
recorded as one marker file per address under ``<root>/addresses/``. Allocation runs
under an exclusive ``flock`` of ``<root>/addresses.lock``, so concurrent orchestrator
processes never hand out one address twice. A marker names the working directory of its
node; a marker whose directory is gone (a node removed by hand) is reclaimed.

Where the OS offers only 127.0.0.1 (macOS and the BSDs configure just that address; a
bind to 127.1.0.1 fails with EADDRNOTAVAIL), every node gets 127.0.0.1 and must listen
on a port of its own; ``mode: single`` forces this, ``mode: range`` insists on the range.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import logging
import os
import socket
import zlib
from pathlib import Path

from .errors import CapacityExceeded, CloudError

__all__ = ["LoopbackPool", "range_available", "SINGLE_ADDRESS"]

log = logging.getLogger(__name__)

SINGLE_ADDRESS = "127.0.0.1"
_FIRST = int(ipaddress.IPv4Address("127.1.0.1"))
_LAST = int(ipaddress.IPv4Address("127.254.255.254"))


def range_available() -> bool:
    """Whether this OS lets a process bind addresses of 127.0.0.0/8 besides 127.0.0.1."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.1.0.1", 0))
        return True
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            return False
        raise
    finally:
        probe.close()


def _usable(value: int) -> bool:
    return 0 < (value & 0xFF) < 255


class LoopbackPool:
    """Hands out and takes back loopback addresses under ``root``."""

    def __init__(self, root: Path, *, mode: str = "auto") -> None:
        if mode not in ("auto", "range", "single"):
            raise CloudError(f"local: address mode must be auto, range or single, got {mode!r}")
        self.root = root
        self.markers = root / "addresses"
        self.lock_path = root / "addresses.lock"
        self.first = _FIRST + (zlib.crc32(str(root).encode()) % 254 << 16)
        if mode == "auto":
            self.single = not range_available()
            if self.single:
                log.warning("this OS offers only 127.0.0.1 on loopback: every local node "
                            "gets 127.0.0.1 and must listen on a port of its own")
        elif mode == "range":
            if not range_available():
                raise CloudError("local: address mode 'range' was asked for, but this OS "
                                 "does not allow binding 127.x.y.z addresses besides 127.0.0.1")
            self.single = False
        else:
            self.single = True

    def _locked(self) -> int:
        self.markers.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def allocate(self, owner: Path) -> str:
        """A fresh address for the node whose working directory is ``owner``."""
        if self.single:
            return SINGLE_ADDRESS
        fd = self._locked()
        try:
            counter = self.markers / ".next"
            try:
                start = int(counter.read_text())
            except (OSError, ValueError):
                start = self.first
            if not _FIRST <= start <= _LAST:
                start = self.first
            value = start
            for _ in range(_LAST - _FIRST + 1):
                if _usable(value):
                    address = str(ipaddress.IPv4Address(value))
                    if self._claim(address, owner):
                        nxt = value + 1 if value < _LAST else _FIRST
                        counter.write_text(str(nxt))
                        return address
                value = value + 1 if value < _LAST else _FIRST
            raise CapacityExceeded("local: every loopback address 127.1.0.1-127.254.255.254 "
                                   "is in use")
        finally:
            os.close(fd)   # releases the lock

    def _claim(self, address: str, owner: Path) -> bool:
        marker = self.markers / address
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                holder = Path(marker.read_text())
            except OSError:
                return False
            if holder.exists():
                return False
            marker.unlink(missing_ok=True)   # its node's directory is gone: reclaim
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(str(owner))
        return True

    def release(self, address: str | None, owner: Path) -> None:
        """Give ``address`` back, if ``owner`` holds it."""
        if self.single or not address:
            return
        fd = self._locked()
        try:
            marker = self.markers / address
            try:
                if Path(marker.read_text()) == owner:
                    marker.unlink()
            except OSError:
                pass
        finally:
            os.close(fd)
