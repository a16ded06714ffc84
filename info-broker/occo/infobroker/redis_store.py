"""The Redis store: state shared by OCCO processes on several machines.

Every key lives under the store's prefix (``<prefix>:...``), so one Redis can hold several
OCCO installations and tests, and :meth:`RedisStore.purge` removes exactly the store's
own keys. Layout (``I`` = an infrastructure id)::

    <p>:meta          hash   schema version
    <p>:infras        zset   infrastructure ids by creation time
    <p>:infra:I       hash   version, body, description
    <p>:inst:I        hash   instance id -> body (JSON)
    <p>:instv:I       hash   instance id -> version (for compare-and-set in Lua)
    <p>:impl:I        hash   digest -> implementation text
    <p>:instidx       hash   instance id -> infrastructure id
    <p>:targets:I     hash   node -> target count
    <p>:requests:I    list   queued scaling requests (JSON)
    <p>:timers:I      hash   instance id -> failure timer start
    <p>:events:I      list   the event log (position = index + 1)
    <p>:defs          hash   node type -> implementations (JSON)
    <p>:lease:NAME    string holder, expiring with the lease (Redis's own clock)
    <p>:op:ID         string the result of a finished write (for exactly-once retries)

Writes are Lua scripts (see :mod:`._redis_scripts`): atomic, and exactly-once when
retried. A lost connection is retried a bounded number of times with backoff; then
:class:`StoreUnavailable` is raised, and the operation was done completely or not at all.
The scripts name every key they touch, but several hashes of one infrastructure are used
together, so Redis Cluster is not supported (a single Redis, or one with replicas and
Sentinel, is).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from occo.util import new_id, register_secret

from ._codec import SCHEMA_VERSION, InfraRow, InstanceRow
from ._redis_scripts import SCRIPTS
from .errors import (
    AlreadyExists,
    BadStateLocation,
    NotFound,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from .redis_url import redact_url
from .secretbox import SecretBox
from .store import InfraApply, InstanceApply, Store

__all__ = ["RedisStore", "redact_url"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_PREFIX = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_OP_TTL = 600           # seconds a finished write remembers its result
_CAS_ATTEMPTS = 200     # read-modify-write rounds before giving up under contention


class RedisStore(Store):
    """A :class:`~occo.infobroker.store.Store` in Redis, under the key prefix ``prefix``.

    ``url`` is ``redis://[:password@]host:port/db`` (``rediss://`` for TLS); a
    ``?prefix=`` in it is ignored here (:func:`open_store` reads it). ``reconnects``
    bounds the retries of one operation after a lost connection; ``timeout`` bounds each
    network wait in seconds.
    """

    def __init__(self, url: str, prefix: str = "occo", *, secrets: SecretBox | None = None,
                 reconnects: int = 5, retry_delay: float = 0.05, timeout: float = 10.0,
                 max_connections: int = 32) -> None:
        super().__init__(secrets=secrets or SecretBox())
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise BadStateLocation(f"the Redis key prefix {prefix!r} is not allowed: use 1 to "
                                   f"100 letters, digits, '_', '.', ':' or '-'", value=str(prefix))
        parts = urlsplit(url)
        if parts.password:
            register_secret(parts.password)
        self.url = redact_url(url)
        self.prefix = prefix
        self.reconnects = reconnects
        self.retry_delay = retry_delay
        try:
            self._redis = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=timeout,
                socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                max_connections=max_connections)
        except ValueError as exc:
            raise BadStateLocation(f"the Redis URL {self.url} is malformed: {exc}",
                                   value=self.url) from exc
        self._scripts = {name: self._redis.register_script(text)
                         for name, text in SCRIPTS.items()}
        self._check_schema()
        self._do("loading the store's scripts", lambda: [
            self._redis.script_load(text) for text in SCRIPTS.values()])

    # ---------------------------------------------------------------- plumbing

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _do(self, what: str, call: Callable[[], T]) -> T:
        """Run ``call``, reconnecting a bounded number of times after a lost connection."""
        delay = self.retry_delay
        for attempt in range(self.reconnects + 1):
            try:
                return call()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                last = exc
                if attempt == self.reconnects:
                    break
                log.warning("Redis at %s: %s while %s; reconnecting (%d of %d)",
                            self.url, exc, what, attempt + 1, self.reconnects)
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 2.0)
            except redis.RedisError as exc:
                raise StoreError(f"Redis at {self.url} refused {what}: {exc}") from exc
        raise StoreUnavailable(
            f"Redis at {self.url} is unreachable ({last}); gave up {what} after "
            f"{self.reconnects + 1} attempts. The operation was either done completely or not "
            f"at all", url=self.url) from last

    def _write(self, what: str, script: str, keys: list[str], args: list[Any]) -> str:
        """Run a write script once (exactly-once across reconnects: one operation key)."""
        op = self._k("op", new_id())
        run = self._scripts[script]
        return self._do(what, lambda: run(keys=[op, *keys], args=[_OP_TTL, *args]))

    def _check_schema(self) -> None:
        meta = self._k("meta")
        found = self._do("reading the schema version",
                         lambda: self._redis.hget(meta, "schema"))
        if found is None:
            self._do("writing the schema version",
                     lambda: self._redis.hsetnx(meta, "schema", SCHEMA_VERSION))
            return
        if int(found) > SCHEMA_VERSION:
            raise SchemaTooNew(f"the Redis store {self.url} (prefix {self.prefix!r}) was "
                               f"written by a newer OCCO (schema {found}; this one reads up "
                               f"to {SCHEMA_VERSION}); it was left untouched: upgrade OCCO",
                               path=f"{self.url} prefix {self.prefix}", found=int(found),
                               supported=SCHEMA_VERSION)

    def close(self) -> None:
        self._redis.close()
        self._redis.connection_pool.disconnect()

    def purge(self) -> int:
        """Delete every key under this store's prefix (tests, or to wipe the state).

        Returns how many keys were deleted."""
        pattern = self._k("*")
        deleted = 0
        batch: list[str] = []
        for key in self._do("listing keys", lambda: list(
                self._redis.scan_iter(match=pattern, count=1000))):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += self._do("deleting keys", partial(self._redis.delete, *batch))
                batch = []
        if batch:
            deleted += self._do("deleting keys", lambda: self._redis.delete(*batch))
        return deleted

    def _pipeline(self, what: str, build: Callable[[Any], object]) -> list[Any]:
        """Run several reads as one MULTI/EXEC (a consistent snapshot); what ``build``
        returns is ignored (the pipeline's commands queue up)."""
        def run() -> list[Any]:
            pipe = self._redis.pipeline(transaction=True)
            build(pipe)
            return pipe.execute()
        return self._do(what, run)

    def _refused(self, result: str, *, infra_id: str | None = None, kind: str = "instance"
                 ) -> None:
        """Raise the error a script's refusal stands for."""
        if not isinstance(result, str) or not result.startswith("!"):
            return
        code, _, rest = result[1:].partition(":")
        if code == "NOTFOUND":
            if rest and rest != infra_id and kind == "instance":
                raise NotFound("instance", rest)
            raise NotFound("infrastructure", rest or infra_id or "?",
                           infra_id=rest or infra_id)
        if code == "EXISTS":
            raise AlreadyExists(kind if rest else "infrastructure", rest or infra_id or "?",
                                infra_id=infra_id)
        raise StoreError(f"Redis at {self.url} refused the write: {result}")

    # ---------------------------------------------------------------- infrastructures

    def _infra_keys(self, infra_id: str) -> dict[str, str]:
        return {name: self._k(name, infra_id) for name in
                ("infra", "inst", "instv", "impl", "targets", "requests", "timers", "events")}

    def _create_infra(self, row: InfraRow) -> None:
        result = self._write("creating an infrastructure", "CREATE_INFRA",
                             [self._k("infra", row.infra_id), self._k("infras")],
                             [row.infra_id, row.version, row.body, row.description,
                              repr(row.created_at)])
        if result == "!EXISTS":
            raise AlreadyExists("infrastructure", row.infra_id, infra_id=row.infra_id)
        self._refused(result, infra_id=row.infra_id)

    def _row(self, infra_id: str, found: list[Any]) -> InfraRow | None:
        version, body, description = found
        if version is None or body is None:
            return None
        try:
            version, created_at = int(version), float(json.loads(body)["created_at"])
        except (ValueError, KeyError, TypeError):
            version, created_at = 0, 0.0   # damaged: decoding the row says what is wrong
        return InfraRow(infra_id, version, created_at, body, description or "{}")

    def _get_infra(self, infra_id: str) -> InfraRow | None:
        key = self._k("infra", infra_id)
        return self._row(infra_id, self._do("reading an infrastructure", lambda: self._redis.hmget(
            key, "version", "body", "description")))

    def _list_infras(self) -> list[InfraRow]:
        ids = self._do("listing infrastructures",
                       lambda: self._redis.zrange(self._k("infras"), 0, -1))
        if not ids:
            return []
        found = self._pipeline("reading infrastructures", lambda pipe: [
            pipe.hmget(self._k("infra", i), "version", "body", "description") for i in ids])
        rows = [self._row(i, f) for i, f in zip(ids, found)]
        return [row for row in rows if row is not None]

    def _update_infra(self, infra_id: str, expected: int | None, apply: InfraApply) -> InfraRow:
        for _ in range(_CAS_ATTEMPTS):
            row = self._get_infra(infra_id)
            if row is None:
                raise NotFound("infrastructure", infra_id, infra_id=infra_id)
            if expected is not None and row.version != expected:
                raise VersionConflict("infrastructure", infra_id, expected=expected,
                                      actual=row.version, infra_id=infra_id)
            new = apply(row)
            result = self._write(
                "updating an infrastructure", "UPDATE_INFRA", [self._k("infra", infra_id)],
                [row.version, new.version, new.body,
                 new.description if new.description != row.description else ""])
            if result.startswith("!CONFLICT:"):
                if expected is not None:
                    raise VersionConflict("infrastructure", infra_id, expected=expected,
                                          actual=int(result.split(":")[1]), infra_id=infra_id)
                continue
            self._refused(result, infra_id=infra_id, kind="infrastructure")
            return new
        raise StoreError(f"infrastructure {infra_id!r} kept changing under {_CAS_ATTEMPTS} "
                         f"attempts to update it", infra_id=infra_id)

    def _delete_infra(self, infra_id: str) -> None:
        k = self._infra_keys(infra_id)
        result = self._write("deleting an infrastructure", "DELETE_INFRA",
                             [k["infra"], self._k("infras"), k["inst"], k["instv"], k["impl"],
                              self._k("instidx"), k["targets"], k["requests"], k["timers"],
                              k["events"]], [infra_id])
        self._refused(result, infra_id=infra_id, kind="infrastructure")

    # ---------------------------------------------------------------- node definitions

    def _put_definition(self, node_type: str, text: str) -> None:
        self._do("storing a node definition",
                 lambda: self._redis.hset(self._k("defs"), node_type, text))

    def _get_definition(self, node_type: str) -> str | None:
        return self._do("reading a node definition",
                        lambda: self._redis.hget(self._k("defs"), node_type))

    def _list_definitions(self) -> dict[str, str]:
        return self._do("listing node definitions",
                        lambda: self._redis.hgetall(self._k("defs")))

    def _delete_definition(self, node_type: str) -> bool:
        return bool(self._do("deleting a node definition",
                             lambda: self._redis.hdel(self._k("defs"), node_type)))

    # ---------------------------------------------------------------- instances

    def _add_instances(self, rows: list[InstanceRow]) -> None:
        groups: dict[str, list[InstanceRow]] = {}
        for row in rows:
            groups.setdefault(row.infra_id, []).append(row)
        keys = [self._k("instidx")]
        args: list[Any] = [len(groups)]
        for infra_id, group in groups.items():
            keys += [self._k("infra", infra_id), self._k("inst", infra_id),
                     self._k("instv", infra_id), self._k("impl", infra_id)]
            args += [infra_id, len(group)]
            for row in group:
                args += [row.instance_id, row.body]
            impls = {row.impl: row.impl_json for row in group}
            args.append(len(impls))
            for digest, text in impls.items():
                args += [digest, text]
        result = self._write("adding instances", "ADD_INSTANCES", keys, args)
        if result.startswith("!NOTFOUND:"):
            infra_id = result.split(":", 1)[1]
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)
        self._refused(result)

    def _get_instance(self, instance_id: str) -> tuple[InstanceRow, str] | None:
        run = self._scripts["GET_INSTANCE"]
        found = self._do("reading an instance", lambda: run(
            keys=[self._k("instidx")], args=[self.prefix, instance_id]))
        if not found:
            return None
        infra_id, body, text = found
        return self.codec.row_from_body(instance_id, infra_id, body), text

    def _list_instances(self, infra_id: str, node_name: str | None
                        ) -> tuple[list[tuple[str, str]], dict[str, str]]:
        exists, bodies, impls = self._pipeline("listing instances", lambda pipe: (
            pipe.exists(self._k("infra", infra_id)), pipe.hgetall(self._k("inst", infra_id)),
            pipe.hgetall(self._k("impl", infra_id))))
        if not exists:
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)
        return list(bodies.items()), impls

    def _infras_of(self, instance_ids: list[str]) -> dict[str, str | None]:
        found = self._do("finding instances",
                         lambda: self._redis.hmget(self._k("instidx"), instance_ids))
        return dict(zip(instance_ids, found))

    def _update_instances(self, expected: dict[str, int | None], apply: InstanceApply, *,
                          with_impl: bool = False) -> dict[str, InstanceRow]:
        ids = list(expected)
        for _ in range(_CAS_ATTEMPTS):
            groups: dict[str, list[str]] = {}
            for instance_id, infra_id in self._infras_of(ids).items():
                if infra_id is None:
                    raise NotFound("instance", instance_id)
                groups.setdefault(infra_id, []).append(instance_id)
            order = list(groups.items())

            def read(pipe: Any, order: list[tuple[str, list[str]]] = order) -> list[Any]:
                return [pipe.hmget(self._k("inst", infra_id), group) for infra_id, group in order]

            found = self._pipeline("reading instances", read)
            new: dict[str, InstanceRow] = {}
            keys: list[str] = []
            args: list[Any] = [len(order)]
            for (infra_id, group), bodies in zip(order, found):
                keys += [self._k("inst", infra_id), self._k("instv", infra_id),
                         self._k("impl", infra_id)]
                args.append(len(group))
                impls: dict[str, str] = {}
                for instance_id, body in zip(group, bodies):
                    if body is None:
                        raise NotFound("instance", instance_id)
                    row = self.codec.row_from_body(instance_id, infra_id, body)
                    wanted = expected[instance_id]
                    if wanted is not None and row.version != wanted:
                        raise VersionConflict("instance", instance_id, expected=wanted,
                                              actual=row.version, infra_id=infra_id)
                    changed = new[instance_id] = apply(row)
                    args += [instance_id, row.version, changed.version, changed.body]
                    if changed.impl_json is not None:
                        impls[changed.impl] = changed.impl_json
                args.append(len(impls))
                for digest, text in impls.items():
                    args += [digest, text]
            result = self._write("updating instances", "UPDATE_INSTANCES", keys, args)
            if result.startswith("!CONFLICT:"):
                _, instance_id, actual = result.split(":")
                wanted = expected[instance_id]
                if wanted is not None:
                    raise VersionConflict("instance", instance_id, expected=wanted,
                                          actual=int(actual))
                continue
            self._refused(result)
            if with_impl:
                for row in new.values():
                    key = self._k("impl", row.infra_id)
                    row.impl_json = self._do("reading an implementation",
                                             partial(self._redis.hget, key, row.impl)) or "{}"
            return new
        raise StoreError(f"instances kept changing under {_CAS_ATTEMPTS} attempts to update "
                         f"them")

    def _delete_instances(self, instance_ids: list[str]) -> None:
        groups: dict[str, list[str]] = {}
        for instance_id, infra_id in self._infras_of(instance_ids).items():
            if infra_id is not None:
                groups.setdefault(infra_id, []).append(instance_id)
        if not groups:
            return
        keys = [self._k("instidx")]
        args: list[Any] = [len(groups)]
        for infra_id, group in groups.items():
            keys += [self._k("inst", infra_id), self._k("instv", infra_id),
                     self._k("timers", infra_id)]
            args += [len(group), *group]
        self._refused(self._write("deleting instances", "DELETE_INSTANCES", keys, args))

    # ---------------------------------------------------------------- scaling

    def _read_map(self, what: str, infra_id: str, kind: str) -> dict[str, str]:
        exists, found = self._pipeline(what, lambda pipe: (
            pipe.exists(self._k("infra", infra_id)), pipe.hgetall(self._k(kind, infra_id))))
        if not exists:
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)
        return found

    def _get_targets(self, infra_id: str) -> dict[str, int]:
        return {node: int(count) for node, count in
                self._read_map("reading scaling targets", infra_id, "targets").items()}

    def _push_request(self, infra_id: str, text: str) -> None:
        result = self._write("queueing a scaling request", "PUSH_REQUEST",
                             [self._k("infra", infra_id), self._k("requests", infra_id)], [text])
        self._refused(result, infra_id=infra_id, kind="infrastructure")

    def _take_requests(self, infra_id: str, remove: bool) -> list[str]:
        if remove:
            result = self._write("taking scaling requests", "TAKE_REQUESTS",
                                 [self._k("infra", infra_id), self._k("requests", infra_id)], [])
            self._refused(result, infra_id=infra_id, kind="infrastructure")
            return json.loads(result)
        exists, items = self._pipeline("reading scaling requests", lambda pipe: (
            pipe.exists(self._k("infra", infra_id)),
            pipe.lrange(self._k("requests", infra_id), 0, -1)))
        if not exists:
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)
        return items

    def _settle_requests(self, infra_id: str, taken: int,
                         targets: dict[str, int | None]) -> None:
        pairs = [v for node, count in targets.items()
                 for v in (node, "" if count is None else count)]
        result = self._write("settling scaling requests", "SETTLE_REQUESTS",
                             [self._k("infra", infra_id), self._k("targets", infra_id),
                              self._k("requests", infra_id)], [taken, *pairs])
        self._refused(result, infra_id=infra_id, kind="infrastructure")

    # ---------------------------------------------------------------- failure timers

    def _start_timer(self, infra_id: str, instance_id: str, since: float) -> float:
        result = self._write("starting a failure timer", "START_TIMER",
                             [self._k("infra", infra_id), self._k("timers", infra_id)],
                             [instance_id, repr(since)])
        self._refused(result, infra_id=infra_id, kind="infrastructure")
        return float(result)

    def _clear_timer(self, infra_id: str, instance_id: str) -> None:
        result = self._write("clearing a failure timer", "CLEAR_TIMER",
                             [self._k("infra", infra_id), self._k("timers", infra_id)],
                             [instance_id])
        self._refused(result, infra_id=infra_id, kind="infrastructure")

    def _get_timers(self, infra_id: str) -> dict[str, float]:
        return {i: float(since) for i, since in
                self._read_map("reading failure timers", infra_id, "timers").items()}

    # ---------------------------------------------------------------- leases

    def _acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        key = self._k("lease", name)
        run = self._scripts["ACQUIRE_LEASE"]
        return bool(self._do("acquiring a lease",
                             lambda: run(keys=[key], args=[holder, max(1, int(ttl * 1000))])))

    def _release_lease(self, name: str, holder: str) -> bool:
        key = self._k("lease", name)
        run = self._scripts["RELEASE_LEASE"]
        return bool(self._do("releasing a lease", lambda: run(keys=[key], args=[holder])))

    def _lease_holder(self, name: str) -> tuple[str, float] | None:
        key = self._k("lease", name)
        holder, left = self._pipeline("reading a lease", lambda pipe: (
            pipe.get(key), pipe.pttl(key)))
        if holder is None or left is None or left < 0:
            return None
        return holder, time.time() + left / 1000.0

    # ---------------------------------------------------------------- events

    def _append_events(self, by_infra: dict[str, list[str]]) -> dict[str, int]:
        keys: list[str] = []
        args: list[Any] = [len(by_infra)]
        for infra_id, texts in by_infra.items():
            keys += [self._k("infra", infra_id), self._k("events", infra_id)]
            args += [infra_id, len(texts), *texts]
        result = self._write("appending events", "APPEND_EVENTS", keys, args)
        if result.startswith("!NOTFOUND:"):
            infra_id = result.split(":", 1)[1]
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)
        self._refused(result)
        return {infra_id: int(first) for infra_id, first in zip(by_infra, result.split(","))}

    def _read_events(self, infra_id: str, after: int, limit: int) -> list[tuple[int, str]]:
        exists, items = self._pipeline("reading events", lambda pipe: (
            pipe.exists(self._k("infra", infra_id)),
            pipe.lrange(self._k("events", infra_id), after, after + limit - 1)))
        if not exists:
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)
        return [(after + 1 + i, text) for i, text in enumerate(items)]

    def _last_event(self, infra_id: str) -> tuple[int, str] | None:
        exists, length, last = self._pipeline("reading the last event", lambda pipe: (
            pipe.exists(self._k("infra", infra_id)),
            pipe.llen(self._k("events", infra_id)),
            pipe.lindex(self._k("events", infra_id), -1)))
        if not exists:
            raise NotFound("infrastructure", infra_id, infra_id=infra_id)
        return None if not length or last is None else (int(length), last)


