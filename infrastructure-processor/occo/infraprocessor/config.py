"""How hard and how long the processor works: limits, timeouts, retries.

The pace of the calls to a cloud (``max_parallel``, ``rate``, ``burst``, ``batch_size``,
``poll_interval``, ``first_poll``) is the cloud's: each backend declares limits its cloud
bears (:class:`occo.util.CloudLimits`). Set here, a limit overrides every cloud's default;
``clouds.<type>.limits`` in the configuration overrides it again for one backend (see
:mod:`occo.util.cloudlimits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from occo.util import LIMIT_KEYS, Backoff, CloudLimits, ConfigError, Location, check_limits

__all__ = ["ProcessingConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessingConfig:
    """Settings of one processor (``processing:`` in occo.yaml)."""

    # None: the cloud's own limit (CloudLimits); a value: this, for every cloud
    max_parallel: int | None = None     # nodes in flight at once per endpoint
    rate: float | None = None           # nodes started per second per endpoint (0: unlimited)
    burst: int | None = None            # nodes started at once before the rate applies
    batch_size: int | None = None       # nodes per endpoint call
    poll_interval: float | None = None  # seconds between state polls of a node (upper bound)
    first_poll: float | None = None     # first look at a new node, growing to poll_interval
    create_timeout: float = 900.0   # from create call to the cloud saying running
    health_timeout: float = 600.0   # from running to the first passing health check
    max_attempts: int = 3           # instances tried per wanted node before the build fails
    call_retries: int = 6           # retries of one call on throttling / transient errors
    drop_retries: int = 6           # retries of a failed drop before it is reported
    lease_ttl: float = 30.0         # a dead processor's hold on an infrastructure expires
    backoff: Backoff = field(default_factory=Backoff)

    def limit_overrides(self) -> dict[str, Any]:
        """The limits set here, which override every cloud's defaults."""
        return {k: getattr(self, k) for k in LIMIT_KEYS if getattr(self, k) is not None}

    def limits_for(self, cloud: CloudLimits, configured: Mapping[str, Any] | None = None
                   ) -> CloudLimits:
        """One endpoint's limits: the cloud's defaults, then this section's, then the ones
        configured for that cloud or endpoint (``clouds.<type>.limits``)."""
        return cloud.over(self.limit_overrides()).over(configured or {})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, path: str = "processing",
                     location: Location | None = None) -> ProcessingConfig:
        """Build from a configuration section; unknown keys and bad values are errors."""
        config = cls()
        if not data:
            return config
        known = {f.name for f in fields(cls)} - {"backoff"}
        changes: dict[str, Any] = check_limits(
            {k: v for k, v in data.items() if k in LIMIT_KEYS}, path, location=location)
        for key, value in data.items():
            if key in LIMIT_KEYS:
                continue
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
