"""The webapp example's data node: a small HTTP key-value service (standard library only).

Run by the local cloud as ``"$OCCO_PYTHON" -m occo.demo.kvstore``. It listens on
``OCCO_NODE_IP:KV_PORT`` (default 7070) and keeps JSON values in memory, like a cache node
without a volume: a replaced data node starts again from its seed.

    GET    /health                 200 {"status": "ok", "keys": N}
    GET    /kv?prefix=P            200 {key: value, ...} of the live keys starting with P
    GET    /kv/<key>               200 the value (JSON), 404 if there is none
    PUT    /kv/<key>[?ttl=S]       204; the body is a JSON value; with ttl the key expires
                                   S seconds later unless written again (registrations)
    POST   /kv/<key>/incr[?by=N]   200 {"value": new} (a missing key counts from 0)
    DELETE /kv/<key>               204, 404 if there was none

Keys may contain ``/`` (``registry/web/<instance id>``). The seed is a JSON object read
from the file named by ``KV_SEED`` (relative to the working directory), if set.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ._node import JsonHandler, env, node_ip, serve, setup_node_logging

__all__ = ["KeyValueStore", "KVHandler", "main"]

log = logging.getLogger(__name__)

MAX_KEYS = 10_000
MAX_KEY_LENGTH = 256


class KeyValueStore:
    """A thread-safe mapping of str keys to JSON values, with optional expiry per key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, key: str, now: float) -> bool:
        item = self._data.get(key)
        if item is None:
            return False
        if item[1] is not None and item[1] <= now:
            del self._data[key]
            return False
        return True

    def get(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            if not self._live(key, self._clock()):
                return False, None
            return True, self._data[key][0]

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            if key not in self._data and len(self._data) >= MAX_KEYS:
                for old in [k for k in self._data if not self._live(k, now)]:
                    self._data.pop(old, None)
                if len(self._data) >= MAX_KEYS:
                    raise OverflowError(f"the store holds {MAX_KEYS} keys already")
            self._data[key] = (value, None if ttl is None else now + ttl)

    def delete(self, key: str) -> bool:
        with self._lock:
            found = self._live(key, self._clock())
            self._data.pop(key, None)
            return found

    def incr(self, key: str, by: int = 1) -> int:
        with self._lock:
            now = self._clock()
            current = self._data[key][0] if self._live(key, now) else 0
            if isinstance(current, bool) or not isinstance(current, int):
                raise TypeError(f"the value of {key!r} is not an integer")
            if key not in self._data and len(self._data) >= MAX_KEYS:
                raise OverflowError(f"the store holds {MAX_KEYS} keys already")
            self._data[key] = (current + by, None)
            return current + by

    def items(self, prefix: str = "") -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            return {k: v for k, (v, _) in sorted(self._data.items())
                    if k.startswith(prefix) and self._live(k, now)}

    def __len__(self) -> int:
        return len(self.items())


class KVHandler(JsonHandler):
    """The HTTP interface of :class:`KeyValueStore` (``self.server.store``)."""

    @property
    def store(self) -> KeyValueStore:
        return self.server.store  # type: ignore[attr-defined]

    def _route(self) -> tuple[str | None, dict[str, list[str]]]:
        """The key named by the path ('' for /kv itself, None for other paths)."""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path in ("/kv", "/kv/"):
            return "", query
        if parts.path.startswith("/kv/"):
            return unquote(parts.path[len("/kv/"):]), query
        return None, query

    def _bad_key(self, key: str) -> bool:
        if not key or len(key) > MAX_KEY_LENGTH:
            self.send_json(400, {"error": f"a key is 1 to {MAX_KEY_LENGTH} characters"})
            return True
        return False

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/health":
            self.send_json(200, {"status": "ok", "keys": len(self.store)})
            return
        key, query = self._route()
        if key is None:
            self.send_json(404, {"error": f"no such path: {self.path}"})
        elif key == "":
            self.send_json(200, self.store.items(query.get("prefix", [""])[0]))
        else:
            found, value = self.store.get(key)
            if found:
                self.send_json(200, value)
            else:
                self.send_json(404, {"error": f"no key {key!r}"})

    do_HEAD = do_GET

    def do_PUT(self) -> None:
        key, query = self._route()
        if not key:
            self.send_json(404 if key is None else 405, {"error": "PUT /kv/<key>"})
            return
        if self._bad_key(key):
            return
        body = self.read_body()
        if body is None:
            return
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            self.send_json(400, {"error": f"the body is not JSON: {exc}"})
            return
        ttl = None
        if "ttl" in query:
            try:
                ttl = float(query["ttl"][0])
                if not 0 < ttl <= 86400:
                    raise ValueError
            except ValueError:
                self.send_json(400, {"error": "ttl must be a number of seconds in (0, 86400]"})
                return
        try:
            self.store.put(key, value, ttl)
        except OverflowError as exc:
            self.send_json(507, {"error": str(exc)})
            return
        self.send_body(204, b"", "text/plain")

    def do_POST(self) -> None:
        key, query = self._route()
        if not key or not key.endswith("/incr"):
            self.send_json(404, {"error": "POST /kv/<key>/incr"})
            return
        key = key[: -len("/incr")]
        if self._bad_key(key):
            return
        if self.headers.get("Content-Length") and self.read_body() is None:
            return  # too large: answered already
        try:
            by = int(query.get("by", ["1"])[0])
            self.send_json(200, {"value": self.store.incr(key, by)})
        except ValueError:
            self.send_json(400, {"error": "by must be an integer"})
        except (TypeError, OverflowError) as exc:
            self.send_json(409, {"error": str(exc)})

    def do_DELETE(self) -> None:
        key, _ = self._route()
        if not key:
            self.send_json(404, {"error": "DELETE /kv/<key>"})
        elif self.store.delete(key):
            self.send_body(204, b"", "text/plain")
        else:
            self.send_json(404, {"error": f"no key {key!r}"})


def load_seed(path: Path) -> dict[str, Any]:
    """The seed file: a JSON object of keys and values."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the seed must be a JSON object, got {type(data).__name__}")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m occo.demo.kvstore",
                                     description="the webapp example's key-value data node")
    parser.add_argument("--host", default=None, help="address (default: $OCCO_NODE_IP)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $KV_PORT, 7070)")
    args = parser.parse_args(argv)
    setup_node_logging("kvstore")
    store = KeyValueStore()
    seed_name = env("KV_SEED", "-")
    if seed_name != "-":
        try:
            seed = load_seed(Path(seed_name))
        except (OSError, ValueError) as exc:
            log.error("cannot read the seed: %s", exc)
            return 2
        for key, value in seed.items():
            store.put(str(key), value)
        log.info("seeded %d keys from %s", len(seed), seed_name)
    port = args.port if args.port is not None else int(env("KV_PORT", "7070"))
    return serve(KVHandler, args.host or node_ip(), port, name="kvstore",
                 context={"store": store})


if __name__ == "__main__":
    raise SystemExit(main())
