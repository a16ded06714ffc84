"""The webapp example's load balancer: spreads requests over the web nodes, round robin.

Run by the local cloud as ``"$OCCO_PYTHON" -m occo.demo.balancer``. Settings (environment):

``BACKENDS``
    The web nodes' addresses, comma-separated: ``{{ getipall('web') | join(',') }}``,
    rendered by OCCO when the balancer is created (all web nodes ready by then).
``WEB_PORT``
    The web nodes' port (default 8080).
``LB_PORT``
    Port to listen on (default 8000), on ``OCCO_NODE_IP``.
``KV_URL``
    Optional: the data service, where web nodes register themselves
    (``registry/web/<instance id>``, see occo.demo.web). Read every ``REFRESH_INTERVAL``
    seconds (default 1). While the registry lists web nodes it is the list of backends,
    so the balancer follows OCCO's healing and scaling; until then (or when the data
    service does not answer) the rendered ``BACKENDS`` are used.

A backend that refuses a connection or fails to answer is skipped for ``DOWN_SECONDS``
(default 3) and the request goes to the next one, so a dead web node costs no failed
request. Every answer carries ``X-Occo-Backend``. ``GET /lb-status`` answers the
balancer's own view as JSON (backends, where they came from, which are skipped, requests
sent to each); every other GET or HEAD is forwarded.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ._node import JsonHandler, env, http_request, node_ip, serve, setup_node_logging

__all__ = ["Backends", "BalancerHandler", "RegistryWatcher", "parse_backends", "main"]

log = logging.getLogger(__name__)

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "server",
                "date"}


def parse_backends(text: str, port: int) -> list[str]:
    """``"127.1.0.2,127.1.0.3"`` (or full URLs) -> ``["http://127.1.0.2:8080", ...]``."""
    out = []
    for item in (part.strip() for part in text.replace(" ", ",").split(",")):
        if not item:
            continue
        url = item if "://" in item else f"http://{item}:{port}"
        if url not in out:
            out.append(url)
    return out


class Backends:
    """The current backends, round robin, with passive failure marking."""

    def __init__(self, urls: list[str], *, down_seconds: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._urls = list(urls)
        self.source = "rendered"
        self._down: dict[str, float] = {}
        self._counter = itertools.count()
        self.down_seconds = down_seconds
        self.sent: dict[str, int] = {}
        self._clock = clock

    def replace(self, urls: list[str], source: str) -> None:
        with self._lock:
            if urls != self._urls:
                log.info("backends from the %s: %s", source, ", ".join(urls) or "none")
            self._urls = list(urls)
            self.source = source

    def order(self) -> list[str]:
        """Every backend once, starting at the next in turn, those marked down last."""
        with self._lock:
            urls = list(self._urls)
            if not urls:
                return []
            start = next(self._counter) % len(urls)
            turn = urls[start:] + urls[:start]
            now = self._clock()
            up = [u for u in turn if self._down.get(u, 0) <= now]
            return up + [u for u in turn if u not in up]

    def mark_down(self, url: str) -> None:
        with self._lock:
            self._down[url] = self._clock() + self.down_seconds

    def count(self, url: str) -> None:
        with self._lock:
            self.sent[url] = self.sent.get(url, 0) + 1

    def view(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            return {"backends": list(self._urls), "source": self.source,
                    "down": sorted(u for u, t in self._down.items() if t > now),
                    "sent": dict(self.sent)}


class RegistryWatcher:
    """Reads the web nodes' registry from the data service at an interval."""

    def __init__(self, kv_url: str, backends: Backends, interval: float) -> None:
        self.kv_url = kv_url.rstrip("/")
        self.backends = backends
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry", daemon=True)

    def refresh(self) -> bool:
        try:
            answer = http_request("GET", f"{self.kv_url}/kv?prefix=registry/web/", timeout=2)
            entries = answer.json() if answer.status == 200 else None
        except (OSError, ValueError) as exc:
            log.debug("registry unreadable: %s", exc)
            return False
        if not isinstance(entries, dict):
            return False
        urls = sorted({str(v["url"]) for v in entries.values()
                       if isinstance(v, dict) and isinstance(v.get("url"), str)})
        if urls:
            self.backends.replace(urls, "registry")
        return bool(urls)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


class BalancerHandler(JsonHandler):
    """Forwards GET and HEAD to ``self.server.backends``."""

    def do_GET(self) -> None:
        backends: Backends = self.server.backends  # type: ignore[attr-defined]
        if urlsplit(self.path).path == "/lb-status":
            self.send_json(200, backends.view())
            return
        tried = []
        for url in backends.order():
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS
                       and k.lower() != "host"}
            try:
                answer = http_request(self.command, url + self.path, headers=headers,
                                      timeout=5)
            except OSError as exc:
                log.warning("%s does not answer (%s); skipping it for %gs", url, exc,
                            backends.down_seconds)
                backends.mark_down(url)
                tried.append(url)
                continue
            backends.count(url)
            extra = {k: v for k, v in answer.headers.items()
                     if k not in _HOP_HEADERS and k != "content-type"}
            extra["X-Occo-Backend"] = url
            self.send_body(answer.status, answer.body,
                           answer.headers.get("content-type", "application/octet-stream"),
                           extra)
            return
        self.send_text(502, "no web node answered"
                       + (f" (tried {', '.join(tried)})" if tried else " (none known)") + "\n")

    do_HEAD = do_GET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m occo.demo.balancer",
                                     description="the webapp example's load balancer")
    parser.add_argument("--host", default=None, help="address (default: $OCCO_NODE_IP)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $LB_PORT, 8000)")
    args = parser.parse_args(argv)
    setup_node_logging("balancer")
    web_port = int(env("WEB_PORT", "8080"))
    backends = Backends(parse_backends(env("BACKENDS", " "), web_port),
                        down_seconds=float(env("DOWN_SECONDS", "3")))
    log.info("backends rendered by OCCO: %s", ", ".join(backends.view()["backends"]) or "none")
    watcher = None
    kv_url = env("KV_URL", "-")
    if kv_url != "-":
        watcher = RegistryWatcher(kv_url, backends, float(env("REFRESH_INTERVAL", "1")))
        watcher.refresh()
    port = args.port if args.port is not None else int(env("LB_PORT", "8000"))
    return serve(BalancerHandler, args.host or node_ip(), port, name="balancer",
                 context={"backends": backends},
                 on_start=watcher.start if watcher else None,
                 on_stop=watcher.stop if watcher else None)


if __name__ == "__main__":
    raise SystemExit(main())
