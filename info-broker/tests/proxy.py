"""A small TCP proxy on loopback that a test can break on purpose.

It forwards between clients and an upstream server (the shared Redis or PostgreSQL), and
can:

- ``drop_next_reply()``: the next bytes the server sends are dropped and the connection
  is closed (the command ran, the client never hears so);
- ``drop_reply_after(marker)``: once a client sends bytes holding ``marker`` (say
  ``b"COMMIT"``), the server's next reply is dropped and the connection closed (the
  server did it, the client never hears so);
- ``cut_request_after(n)``: forward only ``n`` more bytes from the client, then close the
  connection and refuse every later one (the server went away mid-request);
- ``refuse()`` / ``allow()``: close new connections at once, or pass them again.

``accepted`` counts connections, so a test can check that reconnects were bounded.
"""

from __future__ import annotations

import socket
import threading


class Proxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._lock = threading.Lock()
        self._drop_reply = False
        self._drop_after: bytes | None = None
        self._cut_after: int | None = None
        self._refusing = False
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- controls

    def drop_next_reply(self) -> None:
        with self._lock:
            self._drop_reply = True

    def drop_reply_after(self, marker: bytes) -> None:
        with self._lock:
            self._drop_after = marker

    def cut_request_after(self, count: int) -> None:
        with self._lock:
            self._cut_after = count

    def refuse(self) -> None:
        with self._lock:
            self._refusing = True

    def allow(self) -> None:
        with self._lock:
            self._refusing = False

    def close(self) -> None:
        self._closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept()
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)
        self._thread.join(timeout=5)

    # ---------------------------------------------------------------- forwarding

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                refusing = self._refusing
            if refusing:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with self._lock:
                if upward and self._drop_after is not None and self._drop_after in data:
                    self._drop_after = None
                    self._drop_reply = True
                if upward and self._cut_after is not None:
                    data = data[:self._cut_after]
                    self._cut_after -= len(data)
                    cut = self._cut_after <= 0
                    if cut:
                        self._cut_after = None
                        self._refusing = True
                elif not upward and self._drop_reply:
                    self._drop_reply = False
                    data, cut = b"", True
                else:
                    cut = False
            try:
                if data:
                    sink.sendall(data)
            except OSError:
                break
            if cut:
                break
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
