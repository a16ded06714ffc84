"""The dashboard ``occo serve`` serves at ``/ui/`` (docs/user/dashboard.rst).

Plain HTML, CSS and one small script, all in this package: no CDN, nothing fetched from
elsewhere. Logging in with the REST token makes a session (:mod:`.sessions`); the page
then calls the REST paths themselves with the session cookie and, for writes, the
session's CSRF token, so every action goes through the same code as the REST API. Two
paths exist for the page alone: one infrastructure's graph and status in one answer, and
its events as a Server-Sent Events stream that resumes from the last event seen.
"""

from __future__ import annotations

import functools
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from html import escape
from importlib import resources
from typing import Any

import orjson
from flask import Flask, Response, jsonify, redirect, request

from occo.util import InputError, redact

from ..graph import graph_data
from ..rest_state import description_of
from .sessions import COOKIE, CSRF_HEADER, Session, Sessions

__all__ = ["register_ui", "UI_PUBLIC", "session_of", "csrf_refused", "Sessions", "CSRF_HEADER"]

#: what is served without a session: the login page, its stylesheet, logging in
UI_PUBLIC = frozenset({"ui_login", "ui_login_post", "ui_login_css"})
#: the page's files, by the name in /ui/assets/<name>
ASSETS = {"app.js": "application/javascript", "app.css": "text/css"}
#: seconds one event stream stays open; the browser reconnects with Last-Event-ID
STREAM_SECONDS = 25.0
#: how often a stream looks for new events
STREAM_POLL = 0.2
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: every answer of /ui/: only this service's own files and paths
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@functools.cache
def _asset(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


def session_of(sessions: Sessions) -> Session | None:
    return sessions.get(request.cookies.get(COOKIE))


def csrf_refused(session: Session) -> Response | None:
    """A write with a session must carry its CSRF token (a page of another site cannot
    read it); None if it does, or the request only reads."""
    if request.method in SAFE_METHODS or session.csrf_matches(request.headers.get(CSRF_HEADER)):
        return None
    # the page's own log-out form sends it as a field (a form cannot set headers)
    if request.endpoint == "ui_logout" and session.csrf_matches(request.form.get("csrf")):
        return None
    response = jsonify({"error": "Forbidden", "status": 403, "status_code": 403,
                        "message": f"a write from the dashboard needs the {CSRF_HEADER} "
                                   "header of its session"})
    response.status_code = 403
    return response


def register_ui(app: Flask, occo: Any, *, token: str, sessions: Sessions,
                stop: threading.Event, max_streams: int) -> Callable[[], Response | None]:
    """Add the dashboard's routes to ``app``; returns the guard of its paths (called by
    the service's own guard for every ``ui_*`` endpoint)."""
    streams = threading.BoundedSemaphore(max(1, max_streams))

    def page(name: str, **values: str) -> Response:
        text = _asset(name).decode("utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", escape(value, quote=True))
        return Response(text, mimetype="text/html")

    def login_page(message: str = "", status: int = 200) -> Response:
        response = page("login.html", message=message)
        response.status_code = status
        return response

    def login() -> Response:
        return login_page()

    def login_post() -> Response:
        given = request.form.get("token", "")
        if not given or not hmac.compare_digest(given.strip().encode("utf-8"),
                                                token.encode("utf-8")):
            return login_page("That is not the service's token (rest.token_file).", 401)
        session = sessions.new()
        response = redirect("/ui/", code=303)
        response.set_cookie(COOKIE, session.cookie, httponly=True, samesite="Strict",
                            path="/", secure=request.is_secure)
        return response

    def logout() -> Response:
        sessions.drop(request.cookies.get(COOKIE))
        response = redirect("/ui/login", code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    def login_css() -> Response:
        return Response(_asset("app.css"), mimetype="text/css")

    def shell(infra_id: str | None = None) -> Response:
        session = session_of(sessions)
        assert session is not None  # the guard let it through
        return page("app.html", csrf=session.csrf, infra=infra_id or "")

    def asset(name: str) -> Response:
        if name not in ASSETS:
            response = jsonify({"error": "NotFound", "status": 404,
                                "message": f"no dashboard file {name!r}"})
            response.status_code = 404
            return response
        return Response(_asset(name), mimetype=ASSETS[name])

    def infra_view(infra_id: str) -> Response:
        stored = description_of(occo, infra_id)   # 404 if unknown
        status = occo.status(infra_id)
        graph = graph_data(status, [(e.dependent, e.dependency) for e in stored.edges])
        return jsonify(redact({"graph": graph, "status": status, "now": time.time()}))

    def event_stream(infra_id: str) -> Response:
        description_of(occo, infra_id)
        after = _position(request.headers.get("Last-Event-ID") or request.args.get("after"))
        if not streams.acquire(blocking=False):
            response = jsonify({"error": "Busy", "status": 503,
                                "message": "too many dashboards are following events; "
                                           "retry shortly"})
            response.status_code = 503
            response.headers["Retry-After"] = "2"
            return response

        def follow() -> Iterator[bytes]:
            try:
                yield b"retry: 1000\n\n"
                last, quiet = after, 0.0
                deadline = time.monotonic() + STREAM_SECONDS
                while time.monotonic() < deadline and not stop.is_set():
                    items = occo.events(infra_id, after=last, limit=500)
                    for item in items:
                        last = item["position"]
                        yield (b"id: %d\nevent: occo\ndata: " % last
                               + orjson.dumps(redact(item)) + b"\n\n")
                    if items:
                        quiet = 0.0
                        continue
                    quiet += STREAM_POLL
                    if quiet >= 5:
                        yield b": still here\n\n"
                        quiet = 0.0
                    stop.wait(STREAM_POLL)
            finally:
                streams.release()
        return Response(follow(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    app.add_url_rule("/ui/login", "ui_login", login, methods=["GET"])
    app.add_url_rule("/ui/login", "ui_login_post", login_post, methods=["POST"])
    app.add_url_rule("/ui/login.css", "ui_login_css", login_css, methods=["GET"])
    app.add_url_rule("/ui/logout", "ui_logout", logout, methods=["POST"])
    app.add_url_rule("/ui/", "ui_home", shell, methods=["GET"])
    app.add_url_rule("/ui/infra/<infra_id>", "ui_infra", shell, methods=["GET"])
    app.add_url_rule("/ui/assets/<name>", "ui_asset", asset, methods=["GET"])
    app.add_url_rule("/ui/api/infra/<infra_id>", "ui_api_infra", infra_view, methods=["GET"])
    app.add_url_rule("/ui/api/infra/<infra_id>/events", "ui_api_events", event_stream,
                     methods=["GET"])

    @app.after_request
    def headers(response: Response) -> Response:
        if request.path.startswith("/ui/"):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["Cache-Control"] = "no-store"
        return response

    def guard() -> Response | None:
        if request.endpoint in UI_PUBLIC:
            return None
        session = session_of(sessions)
        if session is None:
            if request.method == "GET" and request.endpoint in ("ui_home", "ui_infra"):
                return redirect("/ui/login", code=303)
            response = jsonify({"error": "Unauthorized", "status": 401, "status_code": 401,
                                "message": "log in at /ui/login first"})
            response.status_code = 401
            return response
        return csrf_refused(session)

    return guard


def _position(text: str | None) -> int:
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > 16:
        raise InputError(f"Last-Event-ID / after: expected an event position (digits), got "
                         f"{text[:40]!r}")
    return int(text)
