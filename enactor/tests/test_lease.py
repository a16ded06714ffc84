"""The maintenance lease: one maintainer per infrastructure; a dead one's lease is taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from occo.enactor import Enactor, LeaseHeld, MaintenanceConfig, lease_name
from occo.infobroker import MemoryStore


class Unused:
    """The lease needs no endpoint; any call would be a bug."""

    def call(self, *args, **kwargs):
        raise AssertionError("no endpoint call expected")


def enactor(store, holder):
    return Enactor(store, processor=Unused(), cloud=Unused(), composer=Unused(),
                   config=MaintenanceConfig(lease_ttl=60), holder=holder)


def test_a_second_maintainer_is_refused_while_the_first_holds_the_lease():
    store = MemoryStore()
    first = enactor(store, f"{socket.gethostname()}:{os.getpid()}:a")
    second = enactor(store, f"{socket.gethostname()}:{os.getpid()}:b")
    with first.lease("infra-1"):
        with pytest.raises(LeaseHeld, match="maintenance is held by .*:a"):
            with second.lease("infra-1"):
                pass
    with second.lease("infra-1"):  # released: free again
        assert store.lease_holder(lease_name("infra-1"))[0].endswith(":b")


def test_the_lease_of_a_killed_process_on_this_host_is_taken_over_at_once():
    store = MemoryStore()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    holder = f"{socket.gethostname()}:{dead.stdout.strip()}:x"
    assert store.acquire_lease(lease_name("infra-1"), holder, 3600)
    with enactor(store, f"{socket.gethostname()}:{os.getpid()}:me").lease("infra-1"):
        assert store.lease_holder(lease_name("infra-1"))[0].endswith(":me")


def test_a_holder_on_another_host_is_never_presumed_dead():
    store = MemoryStore()
    assert store.acquire_lease(lease_name("infra-1"), "elsewhere:1:x", 3600)
    with pytest.raises(LeaseHeld, match="elsewhere:1:x"):
        with enactor(store, f"{socket.gethostname()}:{os.getpid()}:me").lease("infra-1"):
            pass
