"""Retry pacing and rate limiting shared by everything that calls a cloud.

- :class:`Backoff`: jittered exponential backoff ("full jitter": a uniform draw between 0
  and the exponential bound), so many retrying callers spread out instead of retrying in
  lock-step.
- :class:`TokenBucket`: at most ``rate`` operations per second on average, with bursts of
  up to ``burst``; it never sleeps itself, it says how long to wait.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry number ``attempt`` (0-based): U(0, min(cap, base * factor**n))."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def bound(self, attempt: int) -> float:
        return min(self.cap, self.base * self.factor ** max(0, attempt))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0, self.bound(attempt))


class TokenBucket:
    """A thread-safe token bucket. ``rate <= 0`` means unlimited."""

    def __init__(self, rate: float, burst: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self, wanted: int = 1) -> int:
        """Take up to ``wanted`` tokens now; return how many were taken."""
        if self.rate <= 0:
            return wanted
        with self._lock:
            self._refill()
            granted = min(wanted, int(self._tokens))
            self._tokens -= granted
            return granted

    def wait_time(self, wanted: int = 1) -> float:
        """Seconds until ``wanted`` tokens will be available (0 if they are now)."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            self._refill()
            missing = min(wanted, self.burst) - self._tokens
            return max(0.0, missing / self.rate)
