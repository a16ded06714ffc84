"""PostgreSQL URLs without importing psycopg: checked, split from OCCO's own ``schema``
query parameter, and shown with the password hidden.

Everything but ``schema`` is passed to libpq as it is, so libpq's own settings work
(``sslmode``, ``connect_timeout``, ``passfile``, ...), and so does libpq's way of finding
a password that the URL does not hold: ``PGPASSWORD``, then ``PGPASSFILE`` or
``~/.pgpass``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import BadStateLocation

__all__ = ["SCHEMES", "parse_postgresql_url", "SCHEMA_NAME"]

SCHEMES = ("postgresql", "postgres")
#: a PostgreSQL schema (namespace) OCCO's tables may live in: lower case, so that it is
#: the same name quoted or not; at most 63 bytes (PostgreSQL's identifier limit)
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
DEFAULT_SCHEMA = "occo"


def parse_postgresql_url(url: str, shown: str) -> tuple[str, str]:
    """``(libpq URL, schema)`` of ``postgresql://user@host:port/dbname?schema=name``.

    ``shown`` is the URL as it may appear in messages (password hidden).
    :class:`BadStateLocation` for a URL libpq could not use or a bad schema name.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise BadStateLocation(f"malformed PostgreSQL URL ({exc})", value=shown) from None
    if parts.scheme.lower() not in SCHEMES:
        raise BadStateLocation(f"a PostgreSQL URL starts with postgresql://, not "
                               f"{parts.scheme}://", value=shown)
    if not url[len(parts.scheme):].startswith("://"):
        raise BadStateLocation("a PostgreSQL URL starts with postgresql:// (two slashes)",
                               value=shown)
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        raise BadStateLocation("a PostgreSQL URL names one database, e.g. "
                               "postgresql://occo@db.example.org:5432/occo", value=shown)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    rest = [(key, value) for key, value in query if key != "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not SCHEMA_NAME.match(schema) or schema.startswith("pg_"):
        raise BadStateLocation(f"the PostgreSQL schema {schema!r} is not allowed: use 1 to 63 "
                               f"lower-case letters, digits or '_', not starting with a "
                               f"digit or 'pg_'", value=shown)
    libpq = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))
    return libpq, schema
