"""collection_paused: the cyclic collector is off inside, back as it was after, also when
blocks nest, overlap across threads, or raise."""

from __future__ import annotations

import gc
import threading

import pytest

from occo.util import collection_paused


@pytest.fixture(autouse=True)
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_off_inside_and_back_after_also_when_nested_or_raising():
    with collection_paused():
        assert not gc.isenabled()
        with pytest.raises(RuntimeError):
            with collection_paused():
                raise RuntimeError("boom")
        assert not gc.isenabled(), "the inner block ending re-enabled it early"
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_blocks_of_threads_enable_it_only_when_the_last_ends():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collection_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(5)
    with collection_paused():
        pass
    assert not gc.isenabled(), "this thread's block ended while the other's is open"
    release.set()
    thread.join(5)
    assert gc.isenabled()
