"""A TCP proxy on loopback that a test breaks on purpose, in front of a real server
(RabbitMQ, Redis, PostgreSQL, an HTTP API).

Controls, each safe to call from any thread:

- ``refuse()`` / ``allow()``: close new connections as soon as they are accepted, or pass
  them again;
- ``cut()``: reset every open connection now (returns how many); ``cuts`` counts the calls;
- ``hold()``: stop passing what the server sends to the clients, until the next ``cut()``;
- ``drop_next_reply()``: the server's next bytes are dropped and that connection closed
  (the command ran, the client never hears so);
- ``drop_reply_after(marker)``: once a client sends bytes holding ``marker`` (say
  ``b"COMMIT"``), the server's next reply is dropped and the connection closed;
- ``cut_request_after(n)``: forward only ``n`` more bytes from the clients, then close that
  connection and refuse every later one (the server went away mid-request).

``accepted`` counts connections, so a test can check that reconnects were bounded. Each
connection's two sockets are closed by the last of its two pump threads, so a file
descriptor is never reused while a pump may still use it.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["FaultProxy"]


@dataclass
class _Pair:
    client: socket.socket
    server: socket.socket
    pumps: int = 2   # pump threads still running


class FaultProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port: int = self.listener.getsockname()[1]
        self.accepted = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._pairs: dict[int, _Pair] = {}
        self._refusing = False
        self._drop_reply = False
        self._drop_after: bytes | None = None
        self._cut_after: int | None = None
        self._closed = False
        self._flowing = threading.Event()   # cleared: nothing reaches the clients
        self._flowing.set()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="fault-proxy")
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def url(self, base: str) -> str:
        """``base`` (a service URL such as ``redis://127.0.0.1:6379/0``) pointed at the
        proxy: the same scheme, credentials, path and query, this host and port."""
        parts = urlsplit(base)
        userinfo = parts.netloc.rpartition("@")[0]
        host = f"127.0.0.1:{self.port}"
        return parts._replace(netloc=f"{userinfo}@{host}" if userinfo else host).geturl()

    # ---------------------------------------------------------------- controls

    def refuse(self, refusing: bool = True) -> None:
        with self._lock:
            self._refusing = refusing

    def allow(self) -> None:
        self.refuse(False)

    def hold(self) -> None:
        self._flowing.clear()

    def drop_next_reply(self) -> None:
        with self._lock:
            self._drop_reply = True

    def drop_reply_after(self, marker: bytes) -> None:
        with self._lock:
            self._drop_after = marker

    def cut_request_after(self, count: int) -> None:
        with self._lock:
            self._cut_after = count

    def cut(self) -> int:
        """Reset every connection through the proxy; return how many were cut."""
        with self._lock:
            pairs = [p for p in self._pairs.values() if p.pumps == 2]
            self.cuts += 1
        for pair in pairs:
            _shut(pair.client, pair.server)
        self._flowing.set()   # what was held is dropped: its sockets are shut
        return len(pairs)

    def close(self) -> None:
        self._closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        self.cut()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---------------------------------------------------------------- forwarding

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                key = self.accepted
                refusing = self._refusing
            if refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs[key] = _Pair(client, server)
            threading.Thread(target=self._pump, args=(key, client, server, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(key, server, client, False),
                             daemon=True).start()

    def _filter(self, data: bytes, upward: bool) -> tuple[bytes, bool]:
        """What of ``data`` to pass on, and whether to close the connection after it."""
        with self._lock:
            if upward and self._drop_after is not None and self._drop_after in data:
                self._drop_after = None
                self._drop_reply = True
            if upward and self._cut_after is not None:
                data = data[:self._cut_after]
                self._cut_after -= len(data)
                if self._cut_after <= 0:
                    self._cut_after = None
                    self._refusing = True
                    return data, True
            elif not upward and self._drop_reply:
                self._drop_reply = False
                return b"", True
        return data, False

    def _pump(self, key: int, source: socket.socket, sink: socket.socket,
              upward: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not upward:
                    self._flowing.wait(60)
                data, close = self._filter(data, upward)
                if data:
                    sink.sendall(data)
                if close:
                    break
        except OSError:
            pass
        _shut(source, sink)
        with self._lock:
            pair = self._pairs[key]
            pair.pumps -= 1
            last = pair.pumps == 0
            if last:
                del self._pairs[key]
        if last:
            source.close()
            sink.close()


def _shut(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
