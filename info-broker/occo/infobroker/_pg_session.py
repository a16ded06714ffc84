"""The PostgreSQL store's connections: a pool, bounded retries, and writes done exactly
once across reconnects (see :mod:`.postgresql_store`); and opening its schema."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from occo.util import new_id

from . import _pg_schema
from ._pg_url import parse_postgresql_url
from .errors import StoreError, StoreUnavailable
from .redis_url import redact_url

__all__ = ["PgSession", "Missing", "schema_version"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_OP_TTL = 3600.0          # seconds an operation id is remembered
_SWEEP_EVERY = 1000       # writes of one store between sweeps of old operation ids
DOWN_HOLD = 10.0          # seconds after giving up on an unreachable server in which each
                          # operation makes one attempt, on a connection of its own


class Missing(Exception):
    """Raised inside a transaction to roll it back; carries the error to raise after."""

    def __init__(self, error: StoreError) -> None:
        self.error = error


class PgSession:
    """Connections to one PostgreSQL store: ``url`` shown with its password hidden,
    ``libpq`` the URL libpq is given, ``schema`` where the tables are."""

    def __init__(self, url: str, libpq: str, schema: str, *, reconnects: int,
                 retry_delay: float, statement_timeout: float, connect_timeout: float,
                 max_connections: int) -> None:
        self.url = url
        self.schema = schema
        self._libpq = libpq
        self.reconnects = reconnects
        self.retry_delay = retry_delay
        self.statement_timeout = statement_timeout
        self._writes = 0
        self._count_lock = threading.Lock()
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(2, int(connect_timeout)),
            "options": (f"-c search_path={schema} "
                        f"-c statement_timeout={int(statement_timeout * 1000)} "
                        f"-c idle_in_transaction_session_timeout="
                        f"{int(max(statement_timeout, 1) * 2000)}"),
        }
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.pool: ConnectionPool | None = None
        # after an operation gave up on an unreachable server: until then, operations make
        # one short attempt each instead of waiting out every retry again
        self._down_until = 0.0

    def open_pool(self) -> None:
        self.pool = ConnectionPool(self._libpq, min_size=1, max_size=self.max_connections,
                                   kwargs=self._kwargs, configure=_configure, open=False,
                                   timeout=self.connect_timeout, name=f"occo {self.url}")
        self.pool.open(wait=False)

    # ---------------------------------------------------------------- opening

    def connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self._libpq, **self._kwargs)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.url} is unreachable: "
                                   f"{message(exc)}", url=self.url) from None
        _configure(conn)
        return conn

    def open_schema(self, migrate: bool) -> int:
        with self.connect() as conn:
            try:
                version = _pg_schema.check_version(conn.cursor(), self.schema, self.url)
                if version == _pg_schema.LATEST:
                    return version
                if not migrate:
                    raise StoreError(
                        f"the PostgreSQL store {self.url} (schema {self.schema!r}) is at "
                        f"schema version {version}; this OCCO needs {_pg_schema.LATEST}: run "
                        f"`occo store migrate`")
                _pg_schema.migrate(conn, self.schema, self.url)
                return _pg_schema.LATEST
            except psycopg.Error as exc:
                raise self._translate(exc, "preparing the schema") from None

    def migrate(self) -> list[int]:
        """Apply any migrations still missing; returns their versions."""
        with self.connect() as conn:
            try:
                return _pg_schema.migrate(conn, self.schema, self.url)
            except psycopg.Error as exc:
                raise self._translate(exc, "migrating the schema") from None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    # ---------------------------------------------------------------- plumbing

    def _translate(self, exc: psycopg.Error, doing: str) -> StoreError:
        return StoreError(f"PostgreSQL at {self.url} refused {doing}: {message(exc)}")

    def run(self, doing: str, body: Callable[[psycopg.Cursor], T], *,
             write: bool = True) -> T:
        """Run ``body`` (in one transaction if ``write``), retried a bounded number of
        times after a lost connection or a statement timeout; exactly once for writes."""
        op = new_id() if write else None
        done: list[T] = []     # the result of an attempt whose commit may have been lost
        delay = self.retry_delay
        last: Exception | None = None
        down = time.monotonic() < self._down_until
        attempts = 1 if down else self.reconnects + 1
        for attempt in range(attempts):
            try:
                # a retry, or any attempt while the server is known down, connects on its
                # own: the pool may be backing off, or hand out a connection already dead
                with (self._own_connection() if down or attempt else
                      self._pooled_connection()) as conn:
                    if op is None:
                        return body(conn.cursor())
                    result = self._attempt(conn, op, body, done)
                self._sweep()
                self._down_until = 0.0
                return result
            except Missing as missing:
                raise missing.error from None
            except (pg_errors.QueryCanceled, pg_errors.LockNotAvailable) as exc:
                last = exc
                what = "timed out"
            except pg_errors.TransactionRollback as exc:   # a deadlock the server broke
                last = exc
                what = "rolled the transaction back"
            except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
                last = exc
                what = "lost the connection"
            except psycopg.Error as exc:
                raise self._translate(exc, doing) from None
            if attempt < attempts - 1:
                log.warning("PostgreSQL at %s %s while %s (%s); trying again (%d of %d)",
                            self.url, what, doing, message(last), attempt + 1,
                            self.reconnects)
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 2.0)
        if isinstance(last, (pg_errors.QueryCanceled, pg_errors.LockNotAvailable)):
            reason = (f"a statement ran longer than the statement timeout of "
                      f"{self.statement_timeout:g} s ({message(last)})")
        elif isinstance(last, pg_errors.TransactionRollback):
            reason = f"the transaction was rolled back each time ({message(last)})"
        else:
            reason = f"it is unreachable ({message(last)})"
            self._down_until = time.monotonic() + DOWN_HOLD
        raise StoreUnavailable(
            f"PostgreSQL at {self.url}: {reason}; gave up {doing} after "
            f"{attempts} attempt{'s' if attempts > 1 else ''}"
            f"{' (it was unreachable moments before)' if down else ''}. The operation was "
            f"either done completely or not at all", url=self.url) from None

    def _pooled_connection(self) -> contextlib.AbstractContextManager[psycopg.Connection]:
        """A connection of the pool (PostgreSQLStore opens it before any operation)."""
        assert self.pool is not None, "open_pool() comes before any operation"
        return self.pool.connection()

    @contextlib.contextmanager
    def _own_connection(self) -> Iterator[psycopg.Connection]:
        """A connection of its own, outside the pool (which may be backing off from the
        failures it saw): a server still down refuses it at once, one back answers it."""
        with psycopg.connect(self._libpq, **self._kwargs) as conn:
            _configure(conn)
            yield conn

    def _attempt(self, conn: psycopg.Connection, op: str,
                 body: Callable[[psycopg.Cursor], T], done: list[T]) -> T:
        with conn.transaction():
            cur = conn.cursor()
            cur.execute("INSERT INTO operations (op_id, done_at) VALUES (%s, "
                        "extract(epoch from clock_timestamp())) ON CONFLICT DO NOTHING", (op,))
            if cur.rowcount == 0:      # an earlier attempt committed it
                return done[0] if done else None  # type: ignore[return-value]
            result = body(cur)
            done[:] = [result]
        return result

    def _sweep(self) -> None:
        with self._count_lock:
            self._writes += 1
            due = self._writes % _SWEEP_EVERY == 1
        if due:
            self.run("forgetting old operation ids", lambda cur: cur.execute(
                "DELETE FROM operations WHERE done_at < extract(epoch from "
                "clock_timestamp()) - %s", (_OP_TTL,)), write=False)

def schema_version(url: str, *, connect_timeout: float = 10.0) -> int:
    """The schema version applied in the store at ``url`` (0: none yet), read without
    writing anything; :class:`SchemaTooNew` / :class:`StoreCorrupt` as on opening."""
    shown = redact_url(url)
    libpq, schema = parse_postgresql_url(url, shown)
    try:
        with psycopg.connect(libpq, autocommit=True,
                             connect_timeout=max(2, int(connect_timeout))) as conn:
            return _pg_schema.check_version(conn.cursor(), schema, shown)
    except psycopg.Error as exc:
        raise StoreUnavailable(f"PostgreSQL at {shown} is unreachable: {message(exc)}",
                               url=shown) from None


def _configure(conn: psycopg.Connection) -> None:
    """Read ``json`` columns as text: the codec decodes them (and must see them as
    written)."""
    conn.adapters.register_loader("json", TextLoader)


def message(exc: BaseException | None) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
