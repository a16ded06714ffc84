"""The webapp example's web node: serves pages built from the data node's contents.

Run by the local cloud as ``"$OCCO_PYTHON" -m occo.demo.web``. Settings (environment):

``KV_URL``
    The data service, ``http://{{ getip('data') }}:7070``, rendered by OCCO when the node is
    created (the data node is ready by then: web depends on it).
``WEB_PORT``
    Port to listen on (default 8080), on ``OCCO_NODE_IP``.
``REGISTER_INTERVAL``
    Seconds between registrations in the data service (default 1; 0 turns them off).

Paths:

``GET /``
    The page: the site's title, message and items from the data service, the page view
    counter (one counter for all web nodes, kept by the data service) and which web node
    served it. HTML, or plain text with ``?format=text`` or ``Accept: text/plain``.
``GET /health``
    200 when the data service answers, 503 otherwise: the health check of the node
    definition fetches it, so a web node is ready only once it can serve pages.

Registration: every ``REGISTER_INTERVAL`` seconds the node writes
``registry/web/<instance id>`` = ``{"url", "address", "instance_id"}`` into the data service
with a time-to-live of three intervals, and deletes it when it stops. The load balancer
reads the registry, so it follows healing and scaling (it starts from ``getipall('web')``).
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import threading
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from ._node import JsonHandler, env, http_request, node_ip, serve, setup_node_logging

__all__ = ["WebHandler", "Registration", "render_page", "main"]

log = logging.getLogger(__name__)

REGISTRY = "registry/web/"


def render_page(data: dict[str, Any], *, views: int | None, served_by: dict[str, str],
                as_text: bool) -> str:
    """The page for the site data ``data`` (keys ``site/title``, ``site/message``,
    ``site/items``)."""
    title = str(data.get("site/title") or "OCCO demo")
    message = str(data.get("site/message") or "")
    items = data.get("site/items") or []
    if not isinstance(items, list):
        items = [items]
    who = f"web node {served_by['instance_id'][:8]} at {served_by['address']}"
    counter = "unknown" if views is None else str(views)
    if as_text:
        lines = [title, "=" * len(title), "", message, ""]
        lines += [f"  * {item}" for item in items]
        lines += ["", f"page views (all web nodes): {counter}", f"served by {who}", ""]
        return "\n".join(lines)
    esc = html.escape
    body = "".join(f"<li>{esc(str(item))}</li>" for item in items)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"</head><body><h1>{esc(title)}</h1><p>{esc(message)}</p><ul>{body}</ul>"
            f"<p>page views (all web nodes): {counter}</p><p><small>served by {esc(who)}"
            f"</small></p></body></html>\n")


class WebHandler(JsonHandler):
    """Pages from the data service at ``self.server.kv_url``."""

    def _wants_text(self, query: dict[str, list[str]]) -> bool:
        if query.get("format", [""])[0] == "text":
            return True
        accept = self.headers.get("Accept", "")
        return "text/plain" in accept and "text/html" not in accept

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        kv_url = self.server.kv_url  # type: ignore[attr-defined]
        served_by = self.server.identity  # type: ignore[attr-defined]
        if parts.path == "/health":
            try:
                answer = http_request("GET", f"{kv_url}/health", timeout=2)
                healthy = answer.status == 200
            except OSError as exc:
                healthy, answer = False, None
                log.info("health: the data service does not answer: %s", exc)
            self.send_json(200 if healthy else 503,
                           {"status": "ok" if healthy else "the data service does not answer",
                            **served_by})
            return
        if parts.path not in ("/", "/index.html"):
            self.send_text(404, f"no page {parts.path}\n")
            return
        query = parse_qs(parts.query)
        try:
            site = http_request("GET", f"{kv_url}/kv?prefix=site/", timeout=2)
            views_answer = http_request("POST", f"{kv_url}/kv/stats/page_views/incr",
                                        timeout=2)
            if site.status != 200:
                raise OSError(f"the data service answered {site.status}")
            data = site.json()
            views = views_answer.json()["value"] if views_answer.status == 200 else None
        except (OSError, ValueError, KeyError) as exc:
            self.send_text(503, f"the data service at {kv_url} does not answer: {exc}\n")
            return
        as_text = self._wants_text(query)
        page = render_page(data, views=views, served_by=served_by, as_text=as_text)
        headers = {"X-Served-By": f"{served_by['instance_id']} {served_by['address']}"}
        if as_text:
            self.send_text(200, page, headers)
        else:
            self.send_body(200, page.encode("utf-8"), "text/html; charset=utf-8", headers)

    do_HEAD = do_GET


class Registration:
    """Keeps ``registry/web/<instance id>`` alive in the data service until stopped."""

    def __init__(self, kv_url: str, identity: dict[str, str], interval: float) -> None:
        self.key = quote(REGISTRY + identity["instance_id"], safe="/")
        self.kv_url = kv_url
        self.value = json.dumps(identity).encode()
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registration", daemon=True)
        self._registered = False

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def register_once(self) -> bool:
        ttl = max(3 * self.interval, 1.0)
        try:
            answer = http_request("PUT", f"{self.kv_url}/kv/{self.key}?ttl={ttl:g}",
                                  body=self.value, headers={"Content-Type": "application/json"},
                                  timeout=2)
        except OSError as exc:
            if self._registered:
                log.warning("cannot register with the data service: %s", exc)
            self._registered = False
            return False
        ok = answer.status == 204
        if ok and not self._registered:
            log.info("registered as %s", self.key)
        self._registered = ok
        return ok

    def _run(self) -> None:
        while True:
            self.register_once()
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        """Stop renewing and remove the entry, so the balancer forgets this node now."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.interval > 0:
            try:
                http_request("DELETE", f"{self.kv_url}/kv/{self.key}", timeout=2)
            except OSError:
                pass  # the entry expires by itself


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m occo.demo.web",
                                     description="the webapp example's web node")
    parser.add_argument("--host", default=None, help="address (default: $OCCO_NODE_IP)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $WEB_PORT, 8080)")
    args = parser.parse_args(argv)
    setup_node_logging("web")
    kv_url = env("KV_URL").rstrip("/")
    host = args.host or node_ip()
    port = args.port if args.port is not None else int(env("WEB_PORT", "8080"))
    identity = {"instance_id": os.environ.get("OCCO_INSTANCE_ID", f"{host}:{port}"),
                "address": host, "url": f"http://{host}:{port}"}
    registration = Registration(kv_url, identity, float(env("REGISTER_INTERVAL", "1")))
    return serve(WebHandler, host, port, name="web",
                 context={"kv_url": kv_url, "identity": identity},
                 on_start=registration.start, on_stop=registration.stop)


if __name__ == "__main__":
    raise SystemExit(main())
