"""Backoff bounds and the token bucket, on a fake clock (no sleeping)."""

from __future__ import annotations

import random

from occo.util.ratelimit import Backoff, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_and_is_capped_with_full_jitter():
    b = Backoff(base=0.5, factor=2.0, cap=4.0)
    assert [b.bound(n) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    rng = random.Random(7)
    delays = [b.delay(3, rng) for _ in range(1000)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert min(delays) < 0.5 and max(delays) > 3.5  # spread, not lock-step


def test_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert bucket.take(8) == 5
    assert bucket.take(1) == 0
    assert abs(bucket.wait_time(2) - 0.2) < 1e-9
    clock.now = 0.2
    assert bucket.take(5) == 2
    clock.now = 100.0
    assert bucket.take(100) == 5  # never more than the burst


def test_zero_rate_means_unlimited():
    bucket = TokenBucket(rate=0, burst=1)
    assert bucket.take(10_000) == 10_000 and bucket.wait_time(10) == 0
