"""How fast the scheduler may ask each cloud endpoint: admission and limits.

:class:`EndpointPace` keeps, per endpoint, the limits (the cloud handler's own, asked once
per processor and merged with the configuration; the cautious defaults when the cloud
handler cannot say), whether the cloud pushes state changes (a watch), a token bucket for
the call rate, and the cloud calls in flight; :meth:`EndpointPace.grant` decides how many
waiting creates go out this round.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from occo.util import CloudLimits, TokenBucket

from .config import ProcessingConfig

__all__ = ["EndpointPace"]

log = logging.getLogger("occo.infraprocessor")

#: how many batches of creates one round admits per endpoint, so that calls start while
#: the later intents are still being written
WAVE_BATCHES = 4


class EndpointPace:
    def __init__(self, config: ProcessingConfig, ask: Callable[[Mapping[str, Any]], Any], *,
                 limits: dict[str, CloudLimits] | None = None,
                 watches: dict[str, bool] | None = None,
                 buckets: dict[str, TokenBucket] | None = None) -> None:
        """``ask(resource)``: the cloud handler's answer to ``limits`` for a resource of the
        endpoint. ``limits``, ``watches`` and ``buckets`` may be shared by the runs of one
        processor (they are learned once)."""
        self.config = config
        self.ask = ask
        self._limits = limits if limits is not None else {}
        self.watches = watches if watches is not None else {}
        self._buckets = buckets if buckets is not None else {}
        self.resources: dict[str, Mapping[str, Any]] = {}   # one resource per endpoint
        self.inflight: dict[str, int] = defaultdict(int)    # cloud calls out per endpoint

    def note(self, endpoint: str, resource: Mapping[str, Any]) -> None:
        """Remember a resource of ``endpoint`` (the one its limits are asked for)."""
        if endpoint not in self.resources:
            self.resources[endpoint] = resource

    def limits(self, endpoint: str) -> CloudLimits:
        limits = self._limits.get(endpoint)
        if limits is None:
            try:
                answer = self.ask(self.resources.get(endpoint, {}))
                cloud = CloudLimits().over(answer.get("cloud") or {})
                configured = answer.get("configured") or {}
                self.watches[endpoint] = bool(answer.get("watches"))
            except Exception as exc:  # an older cloud handler, or one that cannot tell
                log.warning("the cloud handler gave no limits for %s (%s); using the "
                            "cautious defaults", endpoint, exc)
                cloud, configured = CloudLimits(), {}
                self.watches[endpoint] = False
            limits = self._limits[endpoint] = self.config.limits_for(cloud, configured)
            log.debug("limits for %s: %s", endpoint, limits)
        return limits

    def bucket(self, endpoint: str) -> TokenBucket:
        bucket = self._buckets.get(endpoint)
        if bucket is None:
            limits = self.limits(endpoint)
            bucket = self._buckets[endpoint] = TokenBucket(limits.rate, limits.burst)
        return bucket

    def has_room(self, endpoint: str) -> bool:
        return self.inflight[endpoint] < self.limits(endpoint).max_parallel

    def grant(self, endpoint: str, waiting: int) -> tuple[int, bool]:
        """How many of ``waiting`` creates may start now on ``endpoint`` (room under
        ``max_parallel``, a wave of batches per round, tokens of the rate), and whether
        more are left for the next round because of the wave."""
        limits = self.limits(endpoint)
        wave = limits.batch_size * WAVE_BATCHES
        room = limits.max_parallel - self.inflight[endpoint]
        more = False
        if room > wave and waiting > wave:
            room, more = wave, True
        granted = self.bucket(endpoint).take(min(room, waiting)) if room > 0 else 0
        return granted, more
