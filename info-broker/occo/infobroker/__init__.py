"""occo.infobroker: OCCO's memory and its query interface.

- :class:`Store` with the backends :class:`MemoryStore`, :class:`SQLiteStore`,
  :class:`RedisStore` and :class:`PostgreSQLStore`, opened by :func:`open_store` from a
  ``--state`` path or URL;
- the records it holds (:class:`InfraRecord`, :class:`InstanceRecord`,
  :class:`ScalingRequest`, :class:`Event`) and their states (:class:`Intent`,
  :class:`InstanceState`);
- :class:`InfoRouter`, which answers keyed queries (``node.state``,
  ``infrastructure.node_instances``, ...) through registered providers, among them
  :class:`StoreProvider`; :func:`follow_events` for progress displays.

See docs/infobroker.rst.
"""

from ._codec import SCHEMA_VERSION
from .errors import (
    AlreadyExists,
    BadStateLocation,
    DamagedRecord,
    InfoArgumentError,
    InfoKeyError,
    InvalidRecord,
    LeaseHeld,
    NotFound,
    SchemaTooNew,
    SecretKeyError,
    StoreCorrupt,
    StoreError,
    StoreGone,
    StoreUnavailable,
    VersionConflict,
)
from .events import follow_events
from .lease import held_lease, holder_name
from .locate import STATE_FORMS, default_state_path, open_store, state_backend
from .memory_store import MemoryStore
from .model import (
    SCALING_KINDS,
    Event,
    InfraRecord,
    InstanceRecord,
    InstanceState,
    Intent,
    ScalingRequest,
)
from .redis_url import redact_url
from .router import InfoProvider, InfoRouter, provides
from .secretbox import SecretBox, default_key_path
from .sqlite_store import SQLiteStore
from .store import Store
from .store_provider import StoreProvider
from .version import __version__

__all__ = [
    "__version__", "SCHEMA_VERSION",
    "Store", "MemoryStore", "SQLiteStore", "RedisStore", "PostgreSQLStore",
    "open_store", "default_state_path", "STATE_FORMS", "redact_url",
    "Intent", "InstanceState", "InfraRecord", "InstanceRecord", "ScalingRequest", "Event",
    "SCALING_KINDS",
    "SecretBox", "default_key_path",
    "InfoRouter", "InfoProvider", "provides", "StoreProvider", "follow_events",
    "held_lease", "holder_name", "LeaseHeld",
    "StoreError", "NotFound", "AlreadyExists", "VersionConflict", "InvalidRecord",
    "StoreUnavailable", "StoreCorrupt", "SchemaTooNew", "DamagedRecord", "StoreGone",
    "SecretKeyError",
    "BadStateLocation",
    "InfoKeyError", "InfoArgumentError",
    "state_backend",
]


def __getattr__(name: str):
    """``RedisStore`` and ``PostgreSQLStore`` are imported on first use: their clients
    are slow to import, and most commands never talk to either."""
    if name == "RedisStore":
        from .redis_store import RedisStore
        return RedisStore
    if name == "PostgreSQLStore":
        from .postgresql_store import PostgreSQLStore
        return PostgreSQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
