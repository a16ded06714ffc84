"""Where the state is: :func:`open_store` turns a ``--state`` value into a store.

Accepted forms (anything else is a :class:`BadStateLocation` naming them):

- ``memory://``: a :class:`MemoryStore` (gone when the process ends);
- ``sqlite:///abs/path.sqlite`` or a plain path (``state.sqlite``, ``~/occo.db``): a
  :class:`SQLiteStore`; ``~`` is expanded, missing directories are created;
- ``redis://[:password@]host:port/db?prefix=name`` (or ``rediss://`` for TLS): a
  :class:`RedisStore` with keys under ``name`` (default ``occo``);
- ``postgresql://user[:password]@host:port/dbname?schema=name`` (or ``postgres://``): a
  :class:`PostgreSQLStore` with its tables in the schema ``name`` (default ``occo``); a
  password not in the URL comes from ``PGPASSWORD`` or the password file (``PGPASSFILE``,
  ``~/.pgpass``), as libpq finds it. The password is never shown.

A value that starts like a URL (a word and a colon: ``redis:/host``, ``mysql://db``,
``memory:``) but is none of these is refused, never taken for a file name; a file whose
name has a colon in it is written ``./name:x.sqlite`` or ``sqlite:///path``.

Without a value, the state is :func:`default_state_path`:
``$XDG_DATA_HOME/occo/state.sqlite``, that is ``~/.local/share/occo/state.sqlite``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from occo.util import Location

from .errors import BadStateLocation
from .memory_store import MemoryStore
from .redis_url import parse_redis_url, redact_url
from .secretbox import SecretBox
from .sqlite_store import SQLiteStore
from .store import Store

if TYPE_CHECKING:   # imported when first used: their clients are slow to import
    from .postgresql_store import PostgreSQLStore
    from .redis_store import RedisStore

__all__ = ["open_store", "state_backend", "default_state_path", "STATE_FORMS"]

STATE_FORMS = ("memory://", "sqlite:///path/to/state.sqlite", "a plain file path",
               "redis://host:port/db?prefix=name",
               "postgresql://user@host:port/dbname?schema=name")
# a word and a colon at the start: what a URL (or a mistyped one) looks like
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(/*)")
_KNOWN = ("memory", "sqlite", "redis", "rediss", "postgresql", "postgres")
_EXAMPLES = {"memory": "memory://", "sqlite": "sqlite:///var/lib/occo/state.sqlite",
             "redis": "redis://127.0.0.1:6379/0", "rediss": "rediss://127.0.0.1:6380/0",
             "postgresql": "postgresql://occo@127.0.0.1:5432/occo",
             "postgres": "postgres://occo@127.0.0.1:5432/occo"}


def default_state_path() -> Path:
    """``$XDG_DATA_HOME/occo/state.sqlite`` (``~/.local/share/occo/state.sqlite``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "occo" / "state.sqlite"


def _bad(message: str, value: str, location: Location | None) -> BadStateLocation:
    forms = "; ".join(STATE_FORMS)
    return BadStateLocation(f"state location {value!r}: {message} (accepted: {forms})",
                            value=value, location=location)


def open_store(url_or_path: str | os.PathLike[str] | None = None, *,
               key_path: str | os.PathLike[str] | None = None,
               secrets: SecretBox | None = None, location: Location | None = None) -> Store:
    """The store that ``url_or_path`` names (default: :func:`default_state_path`).

    ``key_path`` is the key file for secret values (default:
    :func:`~occo.infobroker.secretbox.default_key_path`); ``secrets`` a ready
    :class:`SecretBox` instead. ``location`` says where the value was written (a
    configuration file's line), for the error if it is bad.
    """
    box = secrets or (SecretBox(key_path) if key_path is not None else None)
    if url_or_path is None:
        return SQLiteStore(default_state_path(), secrets=box)
    if isinstance(url_or_path, os.PathLike):
        return SQLiteStore(Path(url_or_path), secrets=box)
    value = str(url_or_path).strip()
    shown = redact_url(value)
    if not value:
        raise _bad("it is empty", shown, location)
    scheme = _scheme(value, shown, location)
    if scheme is None:
        return SQLiteStore(Path(value), secrets=box)
    if scheme == "memory":
        if value.rstrip("/") != "memory:":
            raise _bad("memory:// takes nothing after it", shown, location)
        return MemoryStore(secrets=box)
    if scheme == "sqlite":
        path = value[len("sqlite://"):]
        if not path:
            raise _bad("sqlite:// needs a path, e.g. sqlite:///var/lib/occo/state.sqlite",
                       shown, location)
        return SQLiteStore(Path(path), secrets=box)
    if scheme in ("redis", "rediss"):
        return _redis(value, shown, box, location)
    return _postgresql(value, shown, box, location)


def _scheme(value: str, shown: str, location: Location | None) -> str | None:
    """The scheme of ``value`` in lower case (``None``: a plain path); a value that looks
    like a URL but is not one of the accepted forms is a :class:`BadStateLocation`."""
    match = _SCHEME.match(value)
    if match is None or _is_drive(value):
        return None
    scheme, slashes = match.group(1).lower(), match.group(2)
    if scheme not in _KNOWN:
        if slashes:
            raise _bad(f"unknown scheme {scheme}://", shown, location)
        raise _bad(f"unknown scheme {scheme}: (a file whose name has a colon is written "
                   f"./{shown})", shown, location)
    if len(slashes) < 2:
        raise _bad(f"{match.group(1)}: must be followed by two slashes, e.g. "
                   f"{_EXAMPLES[scheme]}", shown, location)
    return scheme


def state_backend(value: str, *, location: Location | None = None) -> str:
    """Which backend a ``--state`` value names (``memory``, ``sqlite``, ``redis`` or
    ``postgresql``), checked as :func:`open_store` checks it, without opening anything."""
    value = str(value).strip()
    shown = redact_url(value)
    if not value:
        raise _bad("it is empty", shown, location)
    scheme = _scheme(value, shown, location)
    if scheme in ("postgresql", "postgres"):
        _postgresql_parts(value, shown, location)
        return "postgresql"
    if scheme is None:
        return "sqlite"
    return {"rediss": "redis"}.get(scheme, scheme)


def _is_drive(value: str) -> bool:
    """A Windows path with a drive letter (``C:\\occo\\state.sqlite``), on Windows."""
    return os.name == "nt" and re.match(r"^[A-Za-z]:[\\/]", value) is not None


def _postgresql_parts(value: str, shown: str, location: Location | None) -> None:
    from ._pg_url import parse_postgresql_url
    try:
        parse_postgresql_url(value, shown)
        parts = urlsplit(value)
    except BadStateLocation as exc:
        raise _bad(exc.message, shown, location) from None
    if not parts.hostname and "host=" not in parts.query:
        raise _bad("a PostgreSQL URL needs a host, e.g. postgresql://occo@127.0.0.1:5432/occo",
                   shown, location)


def _postgresql(value: str, shown: str, box: SecretBox | None,
                location: Location | None) -> PostgreSQLStore:
    _postgresql_parts(value, shown, location)     # checked before psycopg is imported
    from .postgresql_store import PostgreSQLStore  # imports psycopg only when needed
    try:
        return PostgreSQLStore(value, secrets=box)
    except BadStateLocation as exc:
        raise _bad(exc.message, shown, location) from exc


def _redis(value: str, shown: str, box: SecretBox | None,
           location: Location | None) -> RedisStore:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise _bad(f"malformed Redis URL ({exc})", shown, location) from None
    if not parts.hostname:
        raise _bad("a Redis URL needs a host, e.g. redis://127.0.0.1:6379/0", shown, location)
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise _bad(f"the Redis database must be a number, not {db!r}", shown, location)
    from .redis_store import RedisStore  # imports the redis client only when needed
    url, prefix = parse_redis_url(value)
    try:
        return RedisStore(url, prefix or "occo", secrets=box)
    except BadStateLocation as exc:
        raise _bad(exc.message, shown, location) from exc
