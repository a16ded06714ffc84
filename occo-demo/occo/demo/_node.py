"""What every demo node program shares: where to listen, a small HTTP client that never
uses proxies, JSON answers, and a clean stop on SIGTERM.

The node programs (kvstore, web, balancer, ping) use the standard library only: on a real
cloud they would be installed on an image that has nothing else. The local cloud backend
runs them with ``OCCO_NODE_IP`` (the node's own loopback address), ``OCCO_INSTANCE_ID``,
``OCCO_NODE_NAME`` and ``OCCO_WORKDIR`` in their environment (docs/cloudhandlers.rst).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["node_ip", "env", "HttpAnswer", "http_request", "JsonHandler", "serve",
           "setup_node_logging"]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def node_ip() -> str:
    """This node's address: ``OCCO_NODE_IP`` as the local cloud sets it, else loopback."""
    return os.environ.get("OCCO_NODE_IP") or "127.0.0.1"


def env(name: str, default: str | None = None) -> str:
    """A setting from the environment; a missing required one ends the program clearly."""
    value = os.environ.get(name, default)
    if value is None or value == "":
        sys.stderr.write(f"{sys.argv[0]}: the environment variable {name} is not set\n")
        raise SystemExit(2)
    return value


def setup_node_logging(name: str) -> None:
    """One line per message on stderr (the local cloud appends it to the node's log)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {name}: %(message)s", datefmt="%H:%M:%S")


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A finished HTTP exchange: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http_request(method: str, url: str, *, body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 3.0) -> HttpAnswer:
    """One HTTP request straight to ``url`` (never through a proxy from the environment:
    the demo's addresses are loopback addresses). Raises ``OSError`` when it cannot connect
    or the peer breaks off."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not an http:// URL: {url!r}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return HttpAnswer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    except http.client.HTTPException as exc:
        raise OSError(f"{method} {url}: {exc.__class__.__name__}: {exc}") from exc
    finally:
        conn.close()


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler with helpers for JSON and text answers and bounded bodies."""

    server_version = "occo-demo"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's name)
        log.debug("%s %s", self.address_string(), format % args)

    def send_body(self, status: int, body: bytes, content_type: str,
                  extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, data: Any, extra: dict[str, str] | None = None) -> None:
        self.send_body(status, (json.dumps(data, sort_keys=True) + "\n").encode(),
                       "application/json", extra)

    def send_text(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        self.send_body(status, text.encode("utf-8"), "text/plain; charset=utf-8", extra)

    def read_body(self) -> bytes | None:
        """The request body, or None after answering 411/413 for a missing or too large
        one."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.send_json(411, {"error": "a Content-Length header is required"})
            return None
        if int(length) > MAX_BODY:
            self.send_json(413, {"error": f"the body is larger than {MAX_BODY} bytes"})
            self.close_connection = True
            return None
        return self.rfile.read(int(length))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler: type[BaseHTTPRequestHandler], host: str, port: int, *,
          name: str, context: dict[str, Any] | None = None,
          on_start: Callable[[], None] | None = None,
          on_stop: Callable[[], None] | None = None) -> int:
    """Serve HTTP on ``host:port`` until SIGTERM or SIGINT; ``context`` becomes attributes
    of the server (handlers read them as ``self.server.<name>``); ``on_start`` runs once the
    port is bound, ``on_stop`` after serving ended. Returns the exit status."""
    try:
        server = _Server((host, port), handler)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
        return 1
    for key, value in (context or {}).items():
        setattr(server, key, value)
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("%s listening on http://%s:%s/", name, host, port)
    if on_start is not None:
        on_start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        if on_stop is not None:
            on_stop()
        server.server_close()
    log.info("%s stopped", name)
    return 0
