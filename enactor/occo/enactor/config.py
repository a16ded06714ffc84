"""Settings of maintenance (``maintenance:`` in occo.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from occo.util import ConfigError

__all__ = ["MaintenanceConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceConfig:
    interval: float = 10.0          # seconds between passes of the maintain loop
    wake_check: float = 1.0         # how often the loop looks for new requests between passes
    health_timeout: float = 600.0   # unhealthy this long -> replaced (health_check.timeout wins)
    brake_fraction: float = 0.5     # above this share of failed instances, stop replacing
    lease_ttl: float = 30.0         # a dead maintainer's lease expires after this
    failure_backoff_cap: float = 300.0  # a failing infrastructure's passes: interval, 2x, ...
    choice: str = "random"          # implementation choice: random | first | seeded
    seed: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None,
                     path: str = "maintenance") -> MaintenanceConfig:
        config = cls()
        if not data:
            return config
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(f"unknown key {key!r} in {path}; valid keys: "
                                  f"{', '.join(sorted(known))}")
        return replace(config, **dict(data))
