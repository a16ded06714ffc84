"""Holding a lease for the length of a piece of work: the store's lock with a time-to-live,
renewed in the background, released at the end.

Two processes never maintain (or process) one infrastructure at once. A holder that dies
stops renewing, so its lease expires after its time-to-live; a holder that was a process
of this same host and is known to be gone (its pid no longer exists) is replaced at once.
Holder names are ``host:pid:nonce`` (:func:`holder_name`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from occo.util import new_id

from .errors import LeaseHeld
from .store import Store

__all__ = ["holder_name", "held_lease"]

log = logging.getLogger(__name__)


def holder_name() -> str:
    """A name for this process as a lease holder: ``host:pid:nonce``."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` was a process of this host that has ended."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _acquire(store: Store, name: str, holder: str, ttl: float) -> bool:
    if store.acquire_lease(name, holder, ttl):
        return True
    current = store.lease_holder(name)
    if current and _dead_here(current[0]):
        log.warning("taking over the lease %s from %s, which is no longer running",
                    name, current[0])
        store.release_lease(name, current[0])
        return store.acquire_lease(name, holder, ttl)
    return False


@contextmanager
def held_lease(store: Store, name: str, holder: str, ttl: float, *, wait: float = 0.0,
               what: str | None = None, infra_id: str | None = None) -> Iterator[None]:
    """Hold lease ``name`` while the block runs (renewed every ttl/3).

    Waits up to ``wait`` seconds for a held lease to become free, then raises
    :class:`LeaseHeld` naming the holder.
    """
    deadline = time.monotonic() + wait
    while not _acquire(store, name, holder, ttl):
        if time.monotonic() >= deadline:
            current = store.lease_holder(name)
            raise LeaseHeld(f"{what or name} is held by "
                            f"{current[0] if current else 'another process'}",
                            infra_id=infra_id)
        time.sleep(min(0.5, max(0.05, ttl / 10)))
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl / 3):
            try:
                if not store.acquire_lease(name, holder, ttl):
                    log.error("lost the lease %s", name)
            except Exception as exc:  # keep trying: the store may come back
                log.warning("renewing the lease %s failed: %s", name, exc)

    keeper = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
        try:
            store.release_lease(name, holder)
        except Exception as exc:  # it expires on its own
            log.warning("releasing the lease %s failed: %s", name, exc)
