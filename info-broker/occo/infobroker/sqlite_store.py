"""The SQLite store: OCCO's embedded default, one file, safe for several processes.

- WAL mode, so readers never wait for the writer; a busy timeout, so writers of several
  processes queue instead of failing; ``synchronous=FULL``, so a committed change survives
  a crash of OCCO and of the machine.
- Every write is one ``BEGIN IMMEDIATE`` transaction, which takes the write lock before
  reading: the read-check-write of a compare-and-set cannot interleave with another
  process's, and a batch is committed whole or not at all.
- One connection per thread (and per process: a forked child opens its own).
- The file is marked as OCCO's (``PRAGMA application_id``) and carries the schema version
  (``PRAGMA user_version``). A file that is not SQLite, is another program's database,
  is damaged, or was written by a newer OCCO is refused with :class:`StoreCorrupt` /
  :class:`SchemaTooNew`, and left untouched: it is checked through a read-only connection
  before anything is written.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._codec import SCHEMA_VERSION, InfraRow, InstanceRow
from .errors import (
    AlreadyExists,
    BadStateLocation,
    NotFound,
    SchemaTooNew,
    StoreCorrupt,
    StoreError,
    StoreGone,
    VersionConflict,
)
from .secretbox import SecretBox
from .store import InfraApply, InstanceApply, Store

__all__ = ["SQLiteStore", "APPLICATION_ID"]

log = logging.getLogger(__name__)

APPLICATION_ID = 0x4F43434F  # "OCCO"
_MAGIC = b"SQLite format 3\x00"
_CORRUPT_CODES = {11, 26}      # SQLITE_CORRUPT, SQLITE_NOTADB
_CHUNK = 500                   # ids per IN (...) query

_SCHEMA = """
CREATE TABLE infrastructures (infra_id TEXT PRIMARY KEY, version INTEGER NOT NULL,
    created_at REAL NOT NULL, body TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE node_definitions (node_type TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE implementations (infra_id TEXT NOT NULL, digest TEXT NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (infra_id, digest)) WITHOUT ROWID;
CREATE TABLE instances (instance_id TEXT PRIMARY KEY, infra_id TEXT NOT NULL,
    node_name TEXT NOT NULL, state TEXT NOT NULL, intent TEXT NOT NULL,
    version INTEGER NOT NULL, created_at REAL NOT NULL, impl TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX instances_by_infra ON instances (infra_id, node_name);
CREATE TABLE scaling_targets (infra_id TEXT NOT NULL, node_name TEXT NOT NULL,
    count INTEGER NOT NULL, PRIMARY KEY (infra_id, node_name)) WITHOUT ROWID;
CREATE TABLE scaling_requests (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    infra_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX scaling_requests_by_infra ON scaling_requests (infra_id, seq);
CREATE TABLE failure_timers (infra_id TEXT NOT NULL, instance_id TEXT NOT NULL,
    since REAL NOT NULL, PRIMARY KEY (infra_id, instance_id)) WITHOUT ROWID;
CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE events (infra_id TEXT NOT NULL, position INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (infra_id, position)) WITHOUT ROWID;
"""
_TABLES = {"infrastructures", "node_definitions", "implementations", "instances",
           "scaling_targets", "scaling_requests", "failure_timers", "leases", "events"}


class SQLiteStore(Store):
    """A :class:`~occo.infobroker.store.Store` in one SQLite file.

    ``busy_timeout``: seconds a writer waits for another process's transaction.
    ``clock``: the time leases are measured by. ``secrets``: the :class:`SecretBox`
    (default: the key file under the user's configuration directory).
    """

    _lists_in_order = True

    def __init__(self, path: str | os.PathLike[str], *, secrets: SecretBox | None = None,
                 busy_timeout: float = 60.0, durable: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(secrets=secrets or SecretBox())
        self.path = Path(path).expanduser()
        self.url = str(self.path)
        self.busy_timeout = busy_timeout
        self.durable = durable
        self.clock = clock
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._conn_lock = threading.Lock()
        self._closed = False
        self._prepare()
        self._identity = self._file_identity()

    # ---------------------------------------------------------------- opening

    def _prepare(self) -> None:
        """Check an existing file read-only; create the schema in a new or empty one."""
        path = self.path
        if path.is_dir():
            raise BadStateLocation(f"the state location {path} is a directory; give a file "
                                   f"path such as {path / 'state.sqlite'}", value=str(path))
        if path.exists() and not path.is_file():
            raise BadStateLocation(f"the state location {path} is not a regular file",
                                   value=str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise BadStateLocation(f"cannot create the state file {path}: a parent of it is "
                                   f"not a directory", value=str(path)) from None
        except OSError as exc:
            raise BadStateLocation(f"cannot create the directory of the state file {path}: "
                                   f"{exc.strerror}", value=str(path)) from exc
        if path.is_file() and path.stat().st_size > 0:
            if self._check_existing() == SCHEMA_VERSION:
                return
        self._initialise()

    def _check_existing(self) -> int:
        """Refuse a file that is not OCCO's or is too new; returns its schema version."""
        path = self.path
        try:
            with open(path, "rb") as handle:
                head = handle.read(len(_MAGIC))
        except OSError as exc:
            raise StoreError(f"cannot read the state file {path}: {exc.strerror}") from exc
        if head != _MAGIC:
            raise StoreCorrupt(f"the state file {path} is not an SQLite database (damaged, "
                               f"or not OCCO's); it was left untouched. Move it away or "
                               f"choose another file with --state", path=str(path))
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=self.busy_timeout)
        except sqlite3.Error as exc:
            raise self._translate(exc, "opening") from exc
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as exc:
            raise self._translate(exc, "opening") from exc
        finally:
            conn.close()
        if app_id != APPLICATION_ID and (tables or app_id):
            raise StoreCorrupt(f"the state file {path} is an SQLite database of another "
                               f"program, not OCCO's (application id {app_id:#x}); it was "
                               f"left untouched", path=str(path))
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(f"the state file {path} was written by a newer OCCO (schema "
                               f"{version}; this one reads up to {SCHEMA_VERSION}); it was "
                               f"left untouched: upgrade OCCO to use it", path=str(path),
                               found=version, supported=SCHEMA_VERSION)
        if app_id == APPLICATION_ID and version == SCHEMA_VERSION and not _TABLES <= tables:
            raise StoreCorrupt(f"the state file {path} lacks the tables "
                               f"{', '.join(sorted(_TABLES - tables))}; it is damaged and was "
                               f"left untouched", path=str(path))
        return version

    def _initialise(self) -> None:
        conn = self._conn()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:   # nobody else created it meanwhile
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    log.info("created the state file %s (schema %d)", self.path, SCHEMA_VERSION)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._translate(exc, "creating") from exc

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _check_identity(self, doing: str) -> None:
        """Refuse to go on when the state file was removed or replaced since it was opened:
        writes would go to a file nobody can open any more (or to another one), reads
        would show a state that is no longer the truth. One stat per transaction."""
        now = self._file_identity()
        if now != self._identity:
            what = "removed" if now is None else "replaced by another file"
            raise StoreGone(f"the state file {self.path} was {what} while OCCO was using "
                            f"it; it stopped before {doing}, so nothing more was written. "
                            f"Put the file back (or restore it from a backup) and run the "
                            f"command again", path=str(self.path))

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            if hasattr(self, "_identity"):   # opening would create a new, empty file
                self._check_identity("opening a connection")
            try:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout,
                                       isolation_level=None, check_same_thread=False)
                conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
            except sqlite3.Error as exc:
                raise self._translate(exc, "opening") from exc
            local.conn, local.pid = conn, os.getpid()
            with self._conn_lock:
                # close the connections of threads that have ended (a long-running
                # server must not collect one per thread it ever had)
                alive = []
                for thread, other in self._connections:
                    if thread.is_alive():
                        alive.append((thread, other))
                    else:
                        _close_quietly(other)
                alive.append((threading.current_thread(), conn))
                self._connections = alive
        return conn

    def close(self) -> None:
        self._closed = True
        with self._conn_lock:
            for _, conn in self._connections:
                _close_quietly(conn)
            self._connections.clear()

    def verify(self) -> None:
        """A full integrity check of the file; :class:`StoreCorrupt` if it is damaged."""
        with self._read() as conn:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise StoreCorrupt(f"the state file {self.path} is damaged: "
                               f"{'; '.join(problems[:5])}", path=str(self.path))

    # ---------------------------------------------------------------- transactions

    def _translate(self, exc: sqlite3.Error, doing: str) -> StoreError:
        code = getattr(exc, "sqlite_errorcode", None)
        if code in _CORRUPT_CODES:
            return StoreCorrupt(f"the state file {self.path} is damaged ({exc}) while "
                                f"{doing}; it was left as it is. Restore a backup or move it "
                                f"away", path=str(self.path))
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return StoreError(f"the state file {self.path} stayed locked by another process "
                              f"for more than {self.busy_timeout:g} s while {doing}")
        return StoreError(f"the state file {self.path} failed while {doing}: {exc}")

    @contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        if getattr(self._local, "in_round", False):   # a step of write_round: its transaction
            yield self._conn()
            return
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._translate(exc, doing) from exc
        try:
            self._check_identity(doing)
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise self._translate(exc, doing) from exc
        except BaseException:
            _rollback(conn)
            raise

    @contextmanager
    def _read(self, doing: str = "reading") -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads of several statements."""
        conn = self._conn()
        try:
            conn.execute("BEGIN")
            self._check_identity(doing)
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise self._translate(exc, doing) from exc
        except BaseException:
            _rollback(conn)
            raise

    @staticmethod
    def _need(conn: sqlite3.Connection, infra_id: str) -> None:
        if conn.execute("SELECT 1 FROM infrastructures WHERE infra_id = ?",
                        (infra_id,)).fetchone() is None:
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)

    # ---------------------------------------------------------------- infrastructures

    def _create_infra(self, row: InfraRow) -> None:
        with self._write("creating an infrastructure") as conn:
            try:
                conn.execute("INSERT INTO infrastructures VALUES (?, ?, ?, ?, ?)",
                             (row.infra_id, row.version, row.created_at, row.body,
                              row.description))
            except sqlite3.IntegrityError:
                raise AlreadyExists("infrastructure", row.infra_id,
                                    infra_id=row.infra_id) from None

    def _get_infra(self, infra_id: str) -> InfraRow | None:
        with self._read() as conn:
            found = conn.execute("SELECT infra_id, version, created_at, body, description "
                                 "FROM infrastructures WHERE infra_id = ?",
                                 (infra_id,)).fetchone()
        return InfraRow(*found) if found else None

    def _list_infras(self) -> list[InfraRow]:
        with self._read() as conn:
            return [InfraRow(*r) for r in conn.execute(
                "SELECT infra_id, version, created_at, body, description FROM infrastructures")]

    def _update_infra(self, infra_id: str, expected: int | None, apply: InfraApply) -> InfraRow:
        with self._write("updating an infrastructure") as conn:
            found = conn.execute("SELECT infra_id, version, created_at, body, description "
                                 "FROM infrastructures WHERE infra_id = ?",
                                 (infra_id,)).fetchone()
            if found is None:
                raise NotFound("infrastructure", infra_id, infra_id=infra_id)
            row = InfraRow(*found)
            if expected is not None and row.version != expected:
                raise VersionConflict("infrastructure", infra_id, expected=expected,
                                      actual=row.version, infra_id=infra_id)
            new = apply(row)
            conn.execute("UPDATE infrastructures SET version = ?, created_at = ?, body = ?, "
                         "description = ? WHERE infra_id = ?",
                         (new.version, new.created_at, new.body, new.description, infra_id))
            return new

    def _delete_infra(self, infra_id: str) -> None:
        with self._write("deleting an infrastructure") as conn:
            self._need(conn, infra_id)
            for table in ("instances", "implementations", "scaling_targets",
                          "scaling_requests", "failure_timers", "events", "infrastructures"):
                conn.execute(f"DELETE FROM {table} WHERE infra_id = ?", (infra_id,))

    # ---------------------------------------------------------------- node definitions

    def _put_definition(self, node_type: str, text: str) -> None:
        with self._write("storing a node definition") as conn:
            conn.execute("INSERT OR REPLACE INTO node_definitions VALUES (?, ?)",
                         (node_type, text))

    def _get_definition(self, node_type: str) -> str | None:
        with self._read() as conn:
            found = conn.execute("SELECT body FROM node_definitions WHERE node_type = ?",
                                 (node_type,)).fetchone()
        return found[0] if found else None

    def _list_definitions(self) -> dict[str, str]:
        with self._read() as conn:
            return dict(conn.execute("SELECT node_type, body FROM node_definitions"))

    def _delete_definition(self, node_type: str) -> bool:
        with self._write("deleting a node definition") as conn:
            return conn.execute("DELETE FROM node_definitions WHERE node_type = ?",
                                (node_type,)).rowcount > 0

    # ---------------------------------------------------------------- instances

    def _add_instances(self, rows: list[InstanceRow]) -> None:
        with self._write("adding instances") as conn:
            for infra_id in {row.infra_id for row in rows}:
                self._need(conn, infra_id)
            conn.executemany(
                "INSERT OR IGNORE INTO implementations VALUES (?, ?, ?)",
                {(row.infra_id, row.impl, row.impl_json) for row in rows})
            try:
                conn.executemany(
                    "INSERT INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(r.instance_id, r.infra_id, r.node_name, r.state, r.intent, r.version,
                      r.created_at, r.impl, r.body) for r in rows])
            except sqlite3.IntegrityError:
                taken = _existing(conn, [row.instance_id for row in rows])
                raise AlreadyExists("instance", taken[0] if taken else "?") from None

    def _get_instance(self, instance_id: str) -> tuple[InstanceRow, str] | None:
        with self._read() as conn:
            found = conn.execute(
                "SELECT i.instance_id, i.infra_id, i.node_name, i.state, i.intent, i.version, "
                "i.created_at, i.impl, i.body, m.body FROM instances i JOIN implementations m "
                "ON m.infra_id = i.infra_id AND m.digest = i.impl WHERE i.instance_id = ?",
                (instance_id,)).fetchone()
        if found is None:
            return None
        return InstanceRow(*found[:9]), found[9]

    def _list_instances(self, infra_id: str, node_name: str | None
                        ) -> tuple[list[tuple[str, str]], dict[str, str]]:
        with self._read() as conn:
            self._need(conn, infra_id)
            if node_name is None:
                bodies = conn.execute("SELECT instance_id, body FROM instances WHERE "
                                      "infra_id = ? ORDER BY created_at, instance_id",
                                      (infra_id,)).fetchall()
            else:
                bodies = conn.execute("SELECT instance_id, body FROM instances WHERE "
                                      "infra_id = ? AND node_name = ? ORDER BY created_at, "
                                      "instance_id", (infra_id, node_name)).fetchall()
            impls = dict(conn.execute("SELECT digest, body FROM implementations "
                                      "WHERE infra_id = ?", (infra_id,)))
        return bodies, impls

    def _update_instances(self, expected: dict[str, int | None], apply: InstanceApply, *,
                          with_impl: bool = False) -> dict[str, InstanceRow]:
        with self._write("updating instances") as conn:
            ids = list(expected)
            rows: dict[str, InstanceRow] = {}
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for found in conn.execute(
                        "SELECT instance_id, infra_id, node_name, state, intent, version, "
                        f"created_at, impl, body FROM instances WHERE instance_id IN ({marks})",
                        chunk):
                    rows[found[0]] = InstanceRow(*found)
            new: dict[str, InstanceRow] = {}
            for instance_id, version in expected.items():
                row = rows.get(instance_id)
                if row is None:
                    raise NotFound("instance", instance_id)
                if version is not None and row.version != version:
                    raise VersionConflict("instance", instance_id, expected=version,
                                          actual=row.version, infra_id=row.infra_id)
                new[instance_id] = apply(row)
            conn.executemany("INSERT OR IGNORE INTO implementations VALUES (?, ?, ?)",
                             {(r.infra_id, r.impl, r.impl_json) for r in new.values()
                              if r.impl_json is not None})
            conn.executemany(
                "UPDATE instances SET node_name = ?, state = ?, intent = ?, version = ?, "
                "created_at = ?, impl = ?, body = ? WHERE instance_id = ?",
                [(r.node_name, r.state, r.intent, r.version, r.created_at, r.impl, r.body,
                  r.instance_id) for r in new.values()])
            if with_impl:
                for row in new.values():
                    row.impl_json = conn.execute(
                        "SELECT body FROM implementations WHERE infra_id = ? AND digest = ?",
                        (row.infra_id, row.impl)).fetchone()[0]
            return new

    def _delete_instances(self, instance_ids: list[str]) -> None:
        with self._write("deleting instances") as conn:
            for start in range(0, len(instance_ids), _CHUNK):
                chunk = instance_ids[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                conn.execute(f"DELETE FROM failure_timers WHERE instance_id IN ({marks})", chunk)
                conn.execute(f"DELETE FROM instances WHERE instance_id IN ({marks})", chunk)

    # ---------------------------------------------------------------- scaling

    def _get_targets(self, infra_id: str) -> dict[str, int]:
        with self._read() as conn:
            self._need(conn, infra_id)
            return dict(conn.execute("SELECT node_name, count FROM scaling_targets "
                                     "WHERE infra_id = ?", (infra_id,)))

    def _push_request(self, infra_id: str, text: str) -> None:
        with self._write("queueing a scaling request") as conn:
            self._need(conn, infra_id)
            conn.execute("INSERT INTO scaling_requests (infra_id, body) VALUES (?, ?)",
                         (infra_id, text))

    def _take_requests(self, infra_id: str, remove: bool) -> list[str]:
        steps = self._write("taking scaling requests") if remove else self._read()
        with steps as conn:
            self._need(conn, infra_id)
            out = [r[0] for r in conn.execute("SELECT body FROM scaling_requests "
                                              "WHERE infra_id = ? ORDER BY seq", (infra_id,))]
            if remove and out:
                conn.execute("DELETE FROM scaling_requests WHERE infra_id = ?", (infra_id,))
            return out

    def _settle_requests(self, infra_id: str, taken: int,
                         targets: dict[str, int | None]) -> None:
        with self._write("settling scaling requests") as conn:
            self._need(conn, infra_id)
            for node_name, count in targets.items():
                if count is None:
                    conn.execute("DELETE FROM scaling_targets "
                                 "WHERE infra_id = ? AND node_name = ?", (infra_id, node_name))
                else:
                    conn.execute("INSERT OR REPLACE INTO scaling_targets VALUES (?, ?, ?)",
                                 (infra_id, node_name, count))
            if taken:
                conn.execute("DELETE FROM scaling_requests WHERE seq IN (SELECT seq FROM "
                             "scaling_requests WHERE infra_id = ? ORDER BY seq LIMIT ?)",
                             (infra_id, taken))

    # ---------------------------------------------------------------- failure timers

    def _start_timer(self, infra_id: str, instance_id: str, since: float) -> float:
        with self._write("starting a failure timer") as conn:
            self._need(conn, infra_id)
            conn.execute("INSERT OR IGNORE INTO failure_timers VALUES (?, ?, ?)",
                         (infra_id, instance_id, since))
            return conn.execute("SELECT since FROM failure_timers WHERE infra_id = ? AND "
                                "instance_id = ?", (infra_id, instance_id)).fetchone()[0]

    def _clear_timer(self, infra_id: str, instance_id: str) -> None:
        with self._write("clearing a failure timer") as conn:
            self._need(conn, infra_id)
            conn.execute("DELETE FROM failure_timers WHERE infra_id = ? AND instance_id = ?",
                         (infra_id, instance_id))

    def _get_timers(self, infra_id: str) -> dict[str, float]:
        with self._read() as conn:
            self._need(conn, infra_id)
            return dict(conn.execute("SELECT instance_id, since FROM failure_timers "
                                     "WHERE infra_id = ?", (infra_id,)))

    # ---------------------------------------------------------------- leases

    def _acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        with self._write("acquiring a lease") as conn:
            now = self.clock()
            found = conn.execute("SELECT holder, expires_at FROM leases WHERE name = ?",
                                 (name,)).fetchone()
            if found is not None and found[0] != holder and found[1] > now:
                return False
            conn.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)",
                         (name, holder, now + ttl))
            return True

    def _release_lease(self, name: str, holder: str) -> bool:
        with self._write("releasing a lease") as conn:
            found = conn.execute("SELECT holder, expires_at FROM leases WHERE name = ?",
                                 (name,)).fetchone()
            if found is None or found[0] != holder:
                return False
            conn.execute("DELETE FROM leases WHERE name = ?", (name,))
            return found[1] > self.clock()

    def _lease_holder(self, name: str) -> tuple[str, float] | None:
        with self._read() as conn:
            found = conn.execute("SELECT holder, expires_at FROM leases WHERE name = ?",
                                 (name,)).fetchone()
        if found is None or found[1] <= self.clock():
            return None
        return found[0], found[1]

    # ---------------------------------------------------------------- rounds

    atomic_rounds = True

    def _write_round(self, rows: list[InstanceRow], changes: dict[str, Mapping[str, Any]],
                     ids: list[str], by_infra: dict[str, list[str]]) -> dict[str, int]:
        with self._write("writing a scheduler round"):
            self._local.in_round = True
            try:
                return super()._write_round(rows, changes, ids, by_infra)
            finally:
                self._local.in_round = False

    # ---------------------------------------------------------------- events

    def _append_events(self, by_infra: dict[str, list[str]]) -> dict[str, int]:
        with self._write("appending events") as conn:
            firsts = {}
            for infra_id, texts in by_infra.items():
                self._need(conn, infra_id)
                last = conn.execute("SELECT MAX(position) FROM events WHERE infra_id = ?",
                                    (infra_id,)).fetchone()[0] or 0
                firsts[infra_id] = last + 1
                conn.executemany("INSERT INTO events VALUES (?, ?, ?)",
                                 [(infra_id, last + 1 + i, text)
                                  for i, text in enumerate(texts)])
            return firsts

    def _read_events(self, infra_id: str, after: int, limit: int) -> list[tuple[int, str]]:
        with self._read() as conn:
            self._need(conn, infra_id)
            return conn.execute("SELECT position, body FROM events WHERE infra_id = ? AND "
                                "position > ? ORDER BY position LIMIT ?",
                                (infra_id, after, limit)).fetchall()

    def _last_event(self, infra_id: str) -> tuple[int, str] | None:
        with self._read() as conn:
            self._need(conn, infra_id)
            found = conn.execute("SELECT position, body FROM events WHERE infra_id = ? "
                                 "ORDER BY position DESC LIMIT 1", (infra_id,)).fetchone()
            return None if found is None else (found[0], found[1])


def _close_quietly(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _existing(conn: sqlite3.Connection, ids: list[str]) -> list[str]:
    taken: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        taken += [r[0] for r in conn.execute(
            f"SELECT instance_id FROM instances WHERE instance_id IN ({marks})", chunk)]
    return taken
