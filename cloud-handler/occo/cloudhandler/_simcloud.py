"""Where the dummy cloud keeps its simulated nodes: in memory, or in a shared SQLite file.

A simulated node is a record of times, not a thread: it is ``pending`` until
``ready_at``, then ``running`` (or ``failed``, decided when it was created), and after a
drop ``stopping`` until ``gone_at``, then ``terminated``. Its state is therefore a pure
function of the record and the clock, and 10,000 nodes cost 10,000 small records.

- :class:`MemoryCloud`: one per dummy endpoint of a ``CloudHandlerService`` (default).
- :class:`SqliteCloud`: a file several worker processes on one machine share, so they see
  one simulated cloud; creation is atomic (``INSERT`` in an immediate transaction), which
  keeps ``create_node`` idempotent across processes.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import CapacityExceeded, CloudUnavailable

__all__ = ["SimNode", "SimCloud", "MemoryCloud", "SqliteCloud"]


@dataclass(slots=True)
class SimNode:
    """One simulated node: who it is and the times that decide its state."""

    instance_id: str
    infra_id: str
    node_name: str
    seq: int
    created_at: float
    ready_at: float
    fails: bool
    drop_latency: float
    tags: dict[str, str] = field(default_factory=dict)
    dropped_at: float | None = None
    gone_at: float | None = None

    def state(self, now: float) -> str:
        if self.gone_at is not None:
            return "terminated" if now >= self.gone_at else "stopping"
        if now < self.ready_at:
            return "pending"
        return "failed" if self.fails else "running"

    def alive(self, now: float) -> bool:
        return self.gone_at is None or now < self.gone_at


class SimCloud(Protocol):
    """What the dummy handler needs from a backing store."""

    def create(self, node: SimNode, capacity: int | None, now: float) -> tuple[SimNode, bool]:
        """Store ``node`` unless its instance id exists; return the stored one and
        whether it is new. Raise CapacityExceeded when ``capacity`` nodes are alive."""

    def create_many(self, nodes: Sequence[tuple[SimNode, int | None]], now: float
                    ) -> list[tuple[SimNode, bool] | CapacityExceeded]:
        """``create`` for each (node, capacity), at once (one transaction); a full cloud
        is that node's CapacityExceeded in the answer."""

    def get_many(self, instance_ids: Iterable[str]) -> dict[str, SimNode]: ...

    def drop(self, instance_id: str, now: float) -> SimNode | None: ...

    def by_infra(self, infra_id: str) -> list[SimNode]: ...

    def close(self) -> None: ...


class MemoryCloud:
    """A simulated cloud held in this process (per dummy endpoint)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._nodes: dict[str, SimNode] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._undropped = 0
        self._dropping: list[float] = []   # gone_at of nodes still on their way down

    def _alive(self, now: float) -> int:
        heap = self._dropping
        while heap and heap[0] <= now:
            heapq.heappop(heap)
        return self._undropped + len(heap)

    def create(self, node: SimNode, capacity: int | None, now: float) -> tuple[SimNode, bool]:
        with self._lock:
            found = self._nodes.get(node.instance_id)
            if found is not None:
                return found, False
            if capacity is not None and self._alive(now) >= capacity:
                raise CapacityExceeded(f"the dummy cloud {self.name!r} is full: "
                                       f"capacity {capacity} nodes")
            self._seq += 1
            node.seq = self._seq
            self._nodes[node.instance_id] = node
            self._undropped += 1
            return node, True

    def create_many(self, nodes: Sequence[tuple[SimNode, int | None]], now: float
                    ) -> list[tuple[SimNode, bool] | CapacityExceeded]:
        out: list[tuple[SimNode, bool] | CapacityExceeded] = []
        for node, capacity in nodes:
            try:
                out.append(self.create(node, capacity, now))
            except CapacityExceeded as exc:
                out.append(exc)
        return out

    def get_many(self, instance_ids: Iterable[str]) -> dict[str, SimNode]:
        nodes = self._nodes
        return {i: nodes[i] for i in instance_ids if i in nodes}

    def drop(self, instance_id: str, now: float) -> SimNode | None:
        with self._lock:
            node = self._nodes.get(instance_id)
            if node is None or node.dropped_at is not None:
                return node
            node.dropped_at = now
            node.gone_at = now + node.drop_latency
            self._undropped -= 1
            heapq.heappush(self._dropping, node.gone_at)
            return node

    def by_infra(self, infra_id: str) -> list[SimNode]:
        with self._lock:
            return [n for n in self._nodes.values() if n.infra_id == infra_id]

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    infra_id TEXT NOT NULL,
    node_name TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at REAL NOT NULL,
    ready_at REAL NOT NULL,
    fails INTEGER NOT NULL,
    drop_latency REAL NOT NULL,
    dropped_at REAL,
    gone_at REAL,
    UNIQUE (endpoint, instance_id)
);
CREATE INDEX IF NOT EXISTS nodes_infra ON nodes (endpoint, infra_id);
"""
_COLUMNS = ("instance_id, infra_id, node_name, seq, created_at, ready_at, fails, drop_latency, "
            "tags, dropped_at, gone_at")
_CHUNK = 500


def _row_node(row: Any) -> SimNode:
    return SimNode(instance_id=row[0], infra_id=row[1], node_name=row[2], seq=row[3],
                   created_at=row[4], ready_at=row[5], fails=bool(row[6]),
                   drop_latency=row[7], tags=json.loads(row[8]), dropped_at=row[9],
                   gone_at=row[10])


class SqliteCloud:
    """A simulated cloud in a SQLite file, shared by the processes that name the file."""

    def __init__(self, path: str | Path, name: str) -> None:
        self.name = name
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # a simulated cloud: a commit need not reach the disk before the call returns
            # (WAL with NORMAL still survives a crash of the process, not of the machine)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise CloudUnavailable(f"the dummy cloud's store {self.path} cannot be used: "
                                   f"{exc}") from exc

    def _run(self, fn: Any) -> Any:
        with self._lock:
            try:
                return fn(self._db)
            except sqlite3.OperationalError as exc:   # locked for too long, disk full
                raise CloudUnavailable(f"the dummy cloud's store {self.path}: {exc}") from exc

    def create(self, node: SimNode, capacity: int | None, now: float) -> tuple[SimNode, bool]:
        [result] = self.create_many([(node, capacity)], now)
        if isinstance(result, CapacityExceeded):
            raise result
        return result

    def create_many(self, nodes: Sequence[tuple[SimNode, int | None]], now: float
                    ) -> list[tuple[SimNode, bool] | CapacityExceeded]:
        def work(db: sqlite3.Connection) -> list[tuple[SimNode, bool] | CapacityExceeded]:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = [self._insert(db, node, capacity, now) for node, capacity in nodes]
                db.execute("COMMIT")
                return out
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return self._run(work)

    def _insert(self, db: sqlite3.Connection, node: SimNode, capacity: int | None,
                now: float) -> tuple[SimNode, bool] | CapacityExceeded:
        row = db.execute(f"SELECT {_COLUMNS} FROM nodes WHERE endpoint=? AND instance_id=?",
                         (self.name, node.instance_id)).fetchone()
        if row is not None:
            return _row_node(row), False
        if capacity is not None:
            (alive,) = db.execute("SELECT COUNT(*) FROM nodes WHERE endpoint=? AND "
                                  "(gone_at IS NULL OR gone_at > ?)", (self.name, now)).fetchone()
            if alive >= capacity:
                return CapacityExceeded(f"the dummy cloud {self.name!r} is full: capacity "
                                        f"{capacity} nodes")
        cur = db.execute(
            "INSERT INTO nodes (endpoint, instance_id, infra_id, node_name, tags, created_at, "
            "ready_at, fails, drop_latency) VALUES (?,?,?,?,?,?,?,?,?)",
            (self.name, node.instance_id, node.infra_id, node.node_name, json.dumps(node.tags),
             node.created_at, node.ready_at, int(node.fails), node.drop_latency))
        assert cur.lastrowid is not None   # set by the INSERT just run
        node.seq = int(cur.lastrowid)
        return node, True

    def get_many(self, instance_ids: Iterable[str]) -> dict[str, SimNode]:
        ids = list(instance_ids)

        def work(db: sqlite3.Connection) -> dict[str, SimNode]:
            out: dict[str, SimNode] = {}
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i:i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(f"SELECT {_COLUMNS} FROM nodes WHERE endpoint=? AND "
                                      f"instance_id IN ({marks})", (self.name, *chunk)):
                    out[row[0]] = _row_node(row)
            return out
        return self._run(work)

    def drop(self, instance_id: str, now: float) -> SimNode | None:
        def work(db: sqlite3.Connection) -> SimNode | None:
            db.execute("UPDATE nodes SET dropped_at=?, gone_at=? + drop_latency WHERE "
                       "endpoint=? AND instance_id=? AND dropped_at IS NULL",
                       (now, now, self.name, instance_id))
            row = db.execute(f"SELECT {_COLUMNS} FROM nodes WHERE endpoint=? AND "
                             "instance_id=?", (self.name, instance_id)).fetchone()
            return None if row is None else _row_node(row)
        return self._run(work)

    def by_infra(self, infra_id: str) -> list[SimNode]:
        return self._run(lambda db: [_row_node(r) for r in db.execute(
            f"SELECT {_COLUMNS} FROM nodes WHERE endpoint=? AND infra_id=?",
            (self.name, infra_id))])

    def close(self) -> None:
        with self._lock:
            self._db.close()
