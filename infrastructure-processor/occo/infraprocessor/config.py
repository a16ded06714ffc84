"""How hard and how long the processor works: limits, timeouts, retries.

The defaults suit real clouds (EC2-like APIs throttle at tens of mutating calls per
second per account); benchmarks and tests on the dummy cloud raise the limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from occo.util import ConfigError, Location
from occo.util.ratelimit import Backoff

__all__ = ["ProcessingConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessingConfig:
    """Settings of one processor (``processing:`` in occo.yaml)."""

    max_parallel: int = 32          # cloud calls in flight per endpoint
    rate: float = 20.0              # cloud calls per second per endpoint (0: unlimited)
    burst: int = 40                 # calls allowed at once before the rate applies
    batch_size: int = 64            # nodes per endpoint call
    poll_interval: float = 2.0      # seconds between state rounds (upper bound)
    first_poll: float = 0.25        # first look at a new node, then growing to poll_interval
    create_timeout: float = 900.0   # from create call to the cloud saying running
    health_timeout: float = 600.0   # from running to the first passing health check
    max_attempts: int = 3           # instances tried per wanted node before the build fails
    call_retries: int = 6           # retries of one call on throttling / transient errors
    drop_retries: int = 6           # retries of a failed drop before it is reported
    lease_ttl: float = 30.0         # a dead processor's hold on an infrastructure expires
    backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, path: str = "processing",
                     location: Location | None = None) -> "ProcessingConfig":
        """Build from a configuration section; unknown keys and bad values are errors."""
        config = cls()
        if not data:
            return config
        known = {f.name for f in fields(cls)} - {"backoff"}
        changes: dict[str, Any] = {}
        for key, value in data.items():
            if key == "backoff" and isinstance(value, Mapping):
                changes["backoff"] = Backoff(**{k: float(v) for k, v in value.items()})
                continue
            if key not in known:
                raise ConfigError(f"unknown key {key!r} in {path}; valid keys: "
                                  f"{', '.join(sorted(known | {'backoff'}))}",
                                  location=location)
            default = getattr(config, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{path}.{key} must be a number >= 0, got {value!r}",
                                  location=location)
            changes[key] = type(default)(value)
        return replace(config, **changes)
