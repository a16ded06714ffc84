"""occo.infobroker: OCCO's memory and its query interface.

- :class:`Store` with the backends :class:`MemoryStore`, :class:`SQLiteStore` and
  :class:`RedisStore`, opened by :func:`open_store` from a path or URL;
- the records it holds (:class:`InfraRecord`, :class:`InstanceRecord`,
  :class:`ScalingRequest`, :class:`Event`) and their states;
- :class:`InfoRouter`, which answers keyed queries (``node.state``,
  ``infrastructure.node_instances``, ...) through registered providers, among them
  :class:`StoreProvider`.

See docs/infobroker.rst.
"""

from .errors import (AlreadyExists, BadStateLocation, InfoArgumentError, InfoKeyError,
                     InvalidRecord, NotFound, SchemaTooNew, SecretKeyError, StoreCorrupt,
                     StoreError, StoreUnavailable, VersionConflict)
from .memory_store import MemoryStore
from .model import (SCALING_KINDS, Event, InfraRecord, InstanceRecord, InstanceState, Intent,
                    ScalingRequest)
from .secretbox import SecretBox, default_key_path
from .store import Store
from .version import __version__

__all__ = [
    "__version__",
    "Store", "MemoryStore",
    "Intent", "InstanceState", "InfraRecord", "InstanceRecord", "ScalingRequest", "Event",
    "SCALING_KINDS",
    "SecretBox", "default_key_path",
    "StoreError", "NotFound", "AlreadyExists", "VersionConflict", "InvalidRecord",
    "StoreUnavailable", "StoreCorrupt", "SchemaTooNew", "SecretKeyError", "BadStateLocation",
    "InfoKeyError", "InfoArgumentError",
]
