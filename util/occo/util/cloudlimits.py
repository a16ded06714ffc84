"""How hard OCCO works one cloud endpoint: the limits a cloud handler declares for its
cloud and the processor obeys.

Each backend declares its own defaults (``CloudHandler.limits``): what its engine or API
bears (a simulated cloud bears anything, EC2 follows AWS's documented request limits).
The configuration overrides them, least specific first::

    backend default  <  processing: (every cloud)  <  clouds.<type>.limits
                     <  clouds.<type>.endpoints.<endpoint key>.limits

The processor asks the cloud handler service for an endpoint's limits once per run
(``CloudHandlerService.limits``) and applies ``processing:`` between the layers the
service answers. ``occo config show`` prints the result per cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import ConfigError, Location
from .suggest import closest

__all__ = ["CloudLimits", "LIMIT_KEYS", "LIMIT_SETTINGS", "check_limits", "configured_limits"]

#: the keys of a ``clouds.<type>`` section that are the processor's, not the backend's
LIMIT_SETTINGS = ("limits", "endpoints")


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudLimits:
    """The pace of the calls to one cloud endpoint.

    The class defaults are the cautious ones a backend without its own declaration gets.
    """

    max_parallel: int = 32          # nodes in flight at once (creates, drops)
    rate: float = 20.0              # nodes started per second (0: unlimited)
    burst: int = 40                 # nodes started at once before the rate applies
    batch_size: int = 64            # nodes per create, drop or state call
    poll_interval: float = 2.0      # seconds between state polls of a node (upper bound)
    first_poll: float = 0.25        # first look at a new node, growing to poll_interval

    def over(self, changes: Mapping[str, Any]) -> CloudLimits:
        """These limits with ``changes`` (checked keys, see :func:`check_limits`) applied."""
        values: dict[str, Any] = {k: int(v) if k in _WHOLE else float(v)
                                  for k, v in changes.items()}
        return replace(self, **values)

    def __post_init__(self) -> None:
        for key in LIMIT_KEYS:   # a declaration's 0 for a rate is still a float
            value = getattr(self, key)
            object.__setattr__(self, key, int(value) if key in _WHOLE else float(value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LIMIT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(CloudLimits))
_WHOLE = {f.name for f in fields(CloudLimits) if f.type in ("int", int)}


def check_limits(data: Any, path: str, *, location: Location | None = None) -> dict[str, Any]:
    """``data`` as limit changes, or a ConfigError naming ``path`` and the key."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path} must be a mapping of limits ({', '.join(LIMIT_KEYS)}), "
                          f"got {type(data).__name__}", location=location)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in LIMIT_KEYS:
            hint = closest(key, LIMIT_KEYS)
            raise ConfigError(f"unknown key {key!r} in {path}"
                              + (f" (did you mean {hint!r}?)" if hint else "")
                              + f"; valid keys: {', '.join(LIMIT_KEYS)}", location=location)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{path}.{key} must be a number >= 0, got {value!r}",
                              location=location)
        if key in _WHOLE and value != int(value):
            raise ConfigError(f"{path}.{key} must be a whole number, got {value!r}",
                              location=location)
        if key in ("max_parallel", "batch_size", "burst") and value < 1:
            raise ConfigError(f"{path}.{key} must be at least 1, got {value!r}",
                              location=location)
        out[key] = value
    return out


def configured_limits(section: Mapping[str, Any] | None, kind: str, endpoint: str | None = None,
                      *, locate: Callable[..., Location | None] | None = None
                      ) -> dict[str, Any]:
    """The limits a ``clouds.<kind>`` section sets: its ``limits``, and over them those of
    ``endpoints.<endpoint>.limits`` when ``endpoint`` is given. Every entry is checked
    (also those of other endpoints); ``locate(*keys)`` gives a key's place in the file."""
    section = section or {}
    where = locate or (lambda *keys: None)
    out = check_limits(section.get("limits"), f"clouds.{kind}.limits",
                       location=where(kind, "limits"))
    endpoints = section.get("endpoints") or {}
    if not isinstance(endpoints, Mapping):
        raise ConfigError(f"clouds.{kind}.endpoints must map endpoint keys (as `occo config "
                          f"show` lists them) to {{limits: ...}}, got "
                          f"{type(endpoints).__name__}", location=where(kind, "endpoints"))
    for key, settings in endpoints.items():
        path = f"clouds.{kind}.endpoints.{key}"
        if not isinstance(settings, Mapping) or set(settings) - {"limits"}:
            raise ConfigError(f"{path} takes one key, limits, got {settings!r}",
                              location=where(kind, "endpoints", key))
        changes = check_limits(settings.get("limits"), f"{path}.limits",
                               location=where(kind, "endpoints", key))
        if key == endpoint:
            out.update(changes)
    return out
