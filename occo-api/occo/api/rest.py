"""The REST service (``occo serve``, ``occopus-rest-service``): Occopus's paths over the
Python API, with JSON bodies, real status codes and a bearer token.

- ``POST /infrastructures/``: a description (YAML or JSON) -> 202 ``{"infraid": ...}``;
  the build runs in the background and the infrastructure is maintained afterwards.
- ``GET /infrastructures/``, ``GET|DELETE /infrastructures/<id>``,
  ``POST /infrastructures/<id>/attach|detach``,
  ``POST /infrastructures/<id>/scaleup|scaledown|scaleto/<node>[/...]``,
  ``GET /infrastructures/<id>/events``, ``GET /info/<key>``, ``GET /health``,
  ``GET /openapi.json``.

Errors are JSON: ``{"error": type, "message": ..., "status": code}`` plus the located
errors (``errors``: file, line, column, path, message) of a bad description. Status codes:
400 bad input, 401 no valid token, 404 unknown infrastructure, node or instance, 409 busy,
413 body too large, 429 too many secret-authorised scaling requests, 500 failure (details
in the service's log only). Error bodies also carry Occopus's keys (``status_code``,
``reason``). Every answer is redacted (:func:`occo.util.redact`); nothing but ``/health``
answers without the token, but for the scale paths, which also take the infrastructure's
scaling secret (``X-OCCO-Scaling-Secret`` header or ``?secret=``), rate-limited per
infrastructure. A second listener (``scaling_host``) can serve the scale paths alone to
the nodes. See docs/rest.rst and docs/user/rest-reference.rst.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import orjson
from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from occo.enactor import LeaseHeld
from occo.infobroker import (
    InfoArgumentError,
    InfoKeyError,
    InfoRouter,
    NotFound,
    SecretKeyError,
    StoreProvider,
    StoreUnavailable,
)
from occo.util import InputError, Location, OccoError, load_yaml_text, redact
from occo.util.comm import RemoteError

from .config import Config
from .core import Occo
from .errors import Busy, UnknownInfrastructure, UnsupportedBody
from .rest_auth import (
    SCALING_RATE,
    SCALING_SECRET_HEADER,
    SCALING_SECRET_PARAM,
    RateLimiter,
    ensure_token,
    secret_matches,
    token_matches,
)
from .rest_coalesce import Coalescer
from .rest_jobs import Work
from .rest_openapi import MAX_NUMBER, openapi_document
from .rest_server import create_guarded_server
from .rest_state import description_of, occopus_status, queue_scaling
from .ui import Sessions, csrf_refused, register_ui, session_of
from .version import __version__

__all__ = ["create_app", "serve", "RestService", "BODY_SOURCE", "status_of", "is_loopback",
           "read_description", "OCCOPUS_ROUTES", "SCALE_ENDPOINTS", "REFUSED_INFO_KEYS"]

log = logging.getLogger(__name__)

BODY_SOURCE = "request body"
PUBLIC = frozenset({"health"})
BUSY_KINDS = frozenset({"InfrastructureBusy", "LeaseHeld", "Busy"})
#: the endpoints a scaling secret authorises (and the only ones the scaling listener has)
SCALE_ENDPOINTS = frozenset({"scaleup", "scaleup_n", "scaledown", "scaledown_one", "scaleto"})
#: every (method, path) of Occopus 1.10's REST service; each is served here
OCCOPUS_ROUTES = (
    ("POST", "/infrastructures/"), ("GET", "/infrastructures/"),
    ("GET", "/infrastructures/<infraid>"), ("DELETE", "/infrastructures/<infraid>"),
    ("POST", "/infrastructures/<infraid>/attach"), ("POST", "/infrastructures/<infraid>/detach"),
    ("POST", "/infrastructures/<infraid>/scaleup/<nodename>"),
    ("POST", "/infrastructures/<infraid>/scaleup/<nodename>/<count>"),
    ("POST", "/infrastructures/<infraid>/scaledown/<nodename>"),
    ("POST", "/infrastructures/<infraid>/scaledown/<nodename>/<nodeid>"),
    ("POST", "/infrastructures/<infraid>/scaleto/<nodename>/<count>"),
    ("POST", "/infrastructures/<infraid>/notify"),
    ("GET", "/info/<key>"),
)
#: info keys the store answers but the REST service does not serve, and why
REFUSED_INFO_KEYS = {
    "infrastructure.static_description": "descriptions are never sent back by the REST "
                                         "service (they can hold secrets)",
    "node.definition": "node definitions are never sent back by the REST service (they can "
                       "hold secrets)",
}


# ---------------------------------------------------------------------- errors

def status_of(exc: OccoError) -> int:
    """The HTTP status for an OCCO error."""
    if isinstance(exc, (UnknownInfrastructure, NotFound)):
        return 404
    if isinstance(exc, UnsupportedBody):
        return 415
    if isinstance(exc, (Busy, LeaseHeld)) or (isinstance(exc, RemoteError)
                                              and exc.kind in BUSY_KINDS):
        return 409
    if isinstance(exc, StoreUnavailable):
        return 503
    if exc.exit_code == 2:
        return 400
    return 500


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
           ) -> Response:
    # status_code and reason are the keys of Occopus's error bodies (its RequestException)
    response = jsonify(redact({**body, "status": status, "status_code": status,
                               "reason": body.get("message")}))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _occo_error(exc: OccoError) -> Response:
    status = status_of(exc)
    if status == 500:
        log.error("request %s %s failed: %s", request.method, request.path, exc)
    headers = {"Retry-After": "5"} if status in (409, 503) else None
    return _error(status, exc.to_dict(), headers)


def _http_error(exc: HTTPException) -> Response:
    name = "".join(exc.name.split())
    message = exc.description or exc.name
    headers: dict[str, str] = {}
    if isinstance(exc, RequestEntityTooLarge):
        message = f"the request body is larger than {request.max_content_length} bytes"
    elif isinstance(exc, MethodNotAllowed):
        allowed = sorted(exc.valid_methods or ())
        headers["Allow"] = ", ".join(allowed)
        message = (f"{request.path} does not take {request.method}; it takes "
                   f"{', '.join(allowed)}")
    return _error(exc.code or 500, {"error": name, "message": message}, headers)


def _internal_error(exc: Exception) -> Response:
    log.exception("request %s %s failed", request.method, request.path)
    return _error(500, {"error": "InternalError",
                        "message": "internal error; the service's log has the details"})


# ---------------------------------------------------------------------- input

def _flag(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InputError(f"query parameter {name}: expected true or false, got {raw!r}")


def _count(raw: str, what: str, minimum: int, maximum: int = MAX_NUMBER) -> int:
    """A path or query number: ASCII digits only (not "٣", "²" or "1e3"), in range."""
    digits = raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum))
    if not digits or not minimum <= int(raw) <= maximum:
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise InputError(f"{what} must be an integer from {minimum} to {maximum}, got "
                         f"{shown!r}")
    return int(raw)


#: the query parameters each endpoint reads (``/info/<key>`` takes its key's arguments,
#: ``/health`` is not checked); any other is refused, so that a mistyped one
#: (``?limt=5``) is not silently ignored
QUERY_PARAMETERS: dict[str, frozenset[str]] = {
    "create": frozenset({"infraid", "keep_on_failure", "maintain"}),
    "show": frozenset({"format", "refresh"}),
    "events": frozenset({"after", "limit"}),
    "rollback": frozenset({"keep_on_failure"}),
    "ui_api_events": frozenset({"after"}),
    **{endpoint: frozenset({SCALING_SECRET_PARAM}) for endpoint in SCALE_ENDPOINTS},
}


def _check_query(endpoint: str | None) -> None:
    """400 naming the first query parameter ``endpoint`` does not read."""
    if endpoint is None or endpoint == "info":
        return
    known = QUERY_PARAMETERS.get(endpoint, frozenset())
    for name in request.args:
        if name not in known:
            shown = name if len(name) <= 40 else name[:40] + "..."
            takes = (f"this path takes {', '.join(sorted(known))}" if known
                     else "this path takes none")
            raise InputError(f"unknown query parameter {shown!r}: {takes}")


def _int_arg(name: str, default: int, minimum: int, maximum: int = MAX_NUMBER) -> int:
    raw = request.args.get(name)
    return default if raw is None else _count(raw.strip(), f"query parameter {name}", minimum,
                                              maximum)


#: the body types a description may come as: YAML, JSON, text, raw bytes, and what curl's
#: --data-binary sends unless told (application/x-www-form-urlencoded, as Occopus's docs use)
DESCRIPTION_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
                     "application/json", "text/plain", "application/octet-stream",
                     "application/x-www-form-urlencoded")


def _check_body_type() -> None:
    """A body of another type (a multipart form, an image...) is 415, naming the types."""
    kind = (request.mimetype or "").lower()
    if kind and kind not in DESCRIPTION_TYPES:
        hint = (" (a form upload is not read: send the file itself as the body, e.g. curl "
                "--data-binary @infra.yaml)") if kind.startswith("multipart/") else ""
        raise UnsupportedBody(f"the request body is {kind}; send the description as "
                              f"application/yaml or application/json{hint}",
                              location=Location(file=BODY_SOURCE))


def read_description() -> dict[str, Any]:
    """The request body as a description mapping (YAML or JSON), or a located error."""
    _check_body_type()
    raw = request.get_data(cache=False)
    where = Location(file=BODY_SOURCE)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the request body is not UTF-8 text (byte {exc.start})",
                         location=where) from None
    data = load_yaml_text(text, source=BODY_SOURCE)
    if data is None:
        raise InputError("the request body is empty: send an infrastructure description "
                         "(YAML or JSON)", location=where)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise InputError(f"the request body must be an infrastructure description (a "
                         f"mapping with infra_name and nodes), got {kind}",
                         location=Location(file=BODY_SOURCE, line=1, column=1))
    return data


# ---------------------------------------------------------------------- the application

class _JSON(DefaultJSONProvider):
    """Flask's JSON through orjson (several times faster on large status documents), keys
    sorted as Flask sorts them."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=str,
                            option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


def _given_secret() -> str | None:
    return (request.headers.get(SCALING_SECRET_HEADER)
            or request.args.get(SCALING_SECRET_PARAM) or None)


def create_app(occo: Occo, work: Work, *, token: str, max_body: int,
               cors_origins: list[str] | None = None, limiter: RateLimiter | None = None,
               scaling_only: bool = False, sessions: Sessions | None = None,
               max_streams: int = 4) -> Flask:
    """The Flask application of the service (served by waitress in :class:`RestService`).

    With ``scaling_only`` it has the scale paths alone and takes only scaling secrets (the
    listener nodes reach; see :class:`RestService`). ``limiter`` bounds the requests a
    scaling secret authorises, per infrastructure (shared by both listeners).
    """
    app = Flask("occo.api.rest")
    limiter = limiter or RateLimiter(SCALING_RATE)
    app.extensions["occo.scaling_limiter"] = limiter
    app.json = _JSON(app)
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.url_map.strict_slashes = False
    if cors_origins:
        from flask_cors import CORS
        CORS(app, origins=list(cors_origins), allow_headers=["Authorization", "Content-Type"],
             methods=["GET", "POST", "DELETE"], supports_credentials=False, max_age=600)

    app.register_error_handler(OccoError, _occo_error)
    app.register_error_handler(HTTPException, _http_error)
    # the dashboard (/ui/): not on the listener the nodes reach
    sessions = sessions or Sessions(token)
    ui_guard = None if scaling_only else register_ui(
        app, occo, token=token, sessions=sessions, stop=work.stop, max_streams=max_streams)
    app.register_error_handler(Exception, _internal_error)

    def secret_guard(given: str) -> Response | None:
        """A request that brings a scaling secret and no token: only a scale path of the
        secret's own infrastructure, within the rate."""
        if request.endpoint not in SCALE_ENDPOINTS:
            return _error(403, {"error": "Forbidden",
                                "message": "a scaling secret authorises only POST "
                                           "/infrastructures/<id>/scaleup|scaledown|scaleto/"
                                           "... of its own infrastructure; other paths need "
                                           "the token"})
        infra_id = str((request.view_args or {}).get("infra_id", ""))
        allowed, retry = limiter.allow(infra_id)  # wrong guesses count too
        if not allowed:
            return _error(429, {"error": "TooManyRequests",
                                "message": f"more than {limiter.per_minute} scaling requests "
                                           f"in a minute for infrastructure {infra_id}; retry "
                                           f"in {retry} s"}, {"Retry-After": str(retry)})
        try:
            occo.store.get_infrastructure(infra_id)
            # create=False: a refused request makes no key (it writes nothing)
            stored: str | None = occo.store.scaling_secret(infra_id, create=False)
        except (NotFound, SecretKeyError):  # answered as a wrong secret: ids are not
            stored = None                   # confirmed to strangers
        if not secret_matches(given, stored):
            log.warning("refused a scaling request for %s from %s: not its scaling secret",
                        infra_id, request.remote_addr)
            return _error(403, {"error": "Forbidden",
                                "message": "this is not the scaling secret of infrastructure "
                                           f"{infra_id}"})
        return None

    def public() -> bool:
        """A public path, whichever the method: a method /health does not take is its 405,
        not a 401."""
        if request.endpoint in PUBLIC:
            return True
        exc = request.routing_exception
        if not isinstance(exc, MethodNotAllowed) or not exc.valid_methods:
            return False
        adapter = app.url_map.bind_to_environ(request.environ)
        try:
            endpoint, _ = adapter.match(method=sorted(exc.valid_methods)[0])
        except HTTPException:
            return False
        return endpoint in PUBLIC

    def by_session() -> Response | bool:
        """The dashboard's session cookie in place of the token (no Authorization header
        given): True if it is valid, a 403 for a write without its CSRF token."""
        if request.headers.get("Authorization") or scaling_only:
            return False
        session = session_of(sessions)
        if session is None:
            return False
        return csrf_refused(session) or True

    @app.before_request
    def guard() -> Response | None:
        if request.method == "OPTIONS" or public():
            return None
        if ui_guard is not None and (request.endpoint or "").startswith("ui_"):
            refused = ui_guard()
            if refused is not None:
                return refused
            _check_query(request.endpoint)
            return None
        given = _given_secret()
        if scaling_only:
            if given is None:
                return _error(401, {"error": "Unauthorized",
                                    "message": "this listener takes only an infrastructure's "
                                               f"scaling secret: send the header "
                                               f"'{SCALING_SECRET_HEADER}: <secret>' or "
                                               f"?{SCALING_SECRET_PARAM}=<secret>"})
            refused = secret_guard(given)
            if refused is None:
                _check_query(request.endpoint)
            return refused
        if given is not None and not token_matches(request.headers.get("Authorization"), token):
            refused = secret_guard(given)
            if refused is None:
                _check_query(request.endpoint)
            return refused
        session = by_session() if given is None else False
        if isinstance(session, Response):
            return session
        if not session and not token_matches(request.headers.get("Authorization"), token):
            return _error(401, {"error": "Unauthorized",
                                "message": "a valid token is needed: send the header "
                                           "'Authorization: Bearer <token>' (the token is in "
                                           "the file named by rest.token_file)"},
                          {"WWW-Authenticate": 'Bearer realm="occo"'})
        length = request.content_length
        if length is not None and length > max_body:
            return _error(413, {"error": "RequestEntityTooLarge",
                                "message": f"the request body has {length} bytes; the limit "
                                           f"is {max_body} (rest.max_body)"})
        _check_query(request.endpoint)
        args = request.view_args
        if args and args.get("infra_id"):  # a name or id prefix too, once authenticated
            try:
                args["infra_id"] = occo.resolve_infra(args["infra_id"])
            except UnknownInfrastructure:
                pass  # the view answers 404 after checking its own arguments
        return None

    def route(rule: str, endpoint: str, view: Callable[..., Any], methods: list[str]) -> None:
        if scaling_only and endpoint not in SCALE_ENDPOINTS:
            return
        app.add_url_rule(rule, endpoint, view, methods=methods)

    def health() -> Response:
        try:
            occo.store.lease_holder("health")
        except StoreUnavailable as exc:
            return _error(503, {"error": "StoreUnavailable", "message": exc.message,
                                "version": __version__})
        return jsonify({"status": "ok", "version": __version__})

    def openapi() -> Response:
        return jsonify(openapi_document(
            __version__, max_per_node=occo.config.instance_limits.max_per_node))

    def list_infrastructures() -> Response:
        items = occo.list()
        for item in items:
            item["busy"] = work.busy(item["infra_id"])
        return jsonify(redact({"infrastructures": [i["infra_id"] for i in items],
                               "items": items}))

    def create() -> tuple[Response, int]:
        data = read_description()
        target = request.args.get("infraid") or None
        if target:   # an id, a unique name or id prefix, as in the paths
            try:
                target = occo.resolve_infra(target)
            except UnknownInfrastructure:
                pass  # start_build answers 404 naming it
        result = work.start_build(data, infra_id=target,
                                  keep_on_failure=_flag("keep_on_failure", False),
                                  maintain=_flag("maintain", True))
        response = jsonify(redact(result))
        response.headers["Location"] = f"/infrastructures/{result['infraid']}"
        return response, 202

    reads = Coalescer()
    app.extensions["occo.reads"] = reads

    def status_json(infra_id: str, form: str, refresh: bool) -> str:
        status = occo.status(infra_id, refresh=refresh)
        if form == "occo":
            return app.json.dumps(redact({**status, "busy": work.busy(infra_id)}))
        return app.json.dumps(redact(occopus_status(status)))

    def show(infra_id: str) -> Response:
        form = request.args.get("format", "occopus")   # "?format=" is no format
        if form not in ("occopus", "occo"):
            raise InputError(f"query parameter format: expected occopus or occo, got {form!r}")
        refresh = _flag("refresh", False)  # ask the clouds now; writes and heals nothing
        # concurrent readers of one status share one read of the store (or one refresh)
        # and one encoding
        body = reads.get((infra_id, form, refresh),
                         lambda: status_json(infra_id, form, refresh))
        return app.response_class(body + "\n", mimetype="application/json")

    # Each write below makes its answer before it writes (A request that answers an error
    # has changed nothing): the answer is discarded if the write is refused.

    def delete(infra_id: str) -> tuple[Response, int]:
        answer = jsonify({"infraid": infra_id, "status": "destroying"})
        work.start_destroy(infra_id)   # checks, claims, detaches, starts: the last step
        return answer, 202

    def maintain(infra_id: str, flag: bool) -> Response:
        answer = jsonify({"infraid": infra_id, "maintained": flag})
        occo.attach(infra_id, flag)   # checks, then one write: the last step
        return answer

    def attach(infra_id: str) -> Response:
        return maintain(infra_id, True)

    def detach(infra_id: str) -> Response:
        return maintain(infra_id, False)

    def scaled(infra_id: str, node: str, method: str, extra: dict[str, Any] | None = None,
               **how: Any) -> tuple[Response, int]:
        queued = queue_scaling(occo, infra_id, node, **how)
        body = {"infraid": infra_id, "nodename": node, "method": method, **queued.result,
                **(extra or {})}
        if how.get("change") is not None:
            body["count"] = abs(how["change"])
        elif how.get("to") is not None:
            body["count"] = how["to"]
        answer = jsonify(redact(body))   # the answer is ready before anything is written
        queued.commit()
        for warning in queued.result["warnings"]:
            log.warning("scaling %s of %s: %s", node, infra_id, warning)
        return answer, 202

    def scaleup(infra_id: str, node: str, count: str = "1") -> tuple[Response, int]:
        return scaled(infra_id, node, "scaleup", change=_count(count, "count", 1))

    def scaledown(infra_id: str, node: str, nodeid: str | None = None
                  ) -> tuple[Response, int]:
        # Occopus's key nodeid: the instance asked for, or null; in the answer made before
        # the request is queued (nothing may fail after the write)
        if nodeid is None:
            return scaled(infra_id, node, "scaledown", {"nodeid": None}, change=-1)
        return scaled(infra_id, node, "scaledown", {"nodeid": nodeid}, remove=nodeid)

    def scaleto(infra_id: str, node: str, count: str) -> tuple[Response, int]:
        return scaled(infra_id, node, "scaleto", to=_count(count, "count", 0))

    def plan(infra_id: str) -> Response:
        """GET: what a maintenance pass would do now; POST with a description: what
        building it over this infrastructure would do. Nothing is stored either way."""
        if request.method == "POST":
            result = occo.plan(read_description(), infra_id=infra_id)
        else:
            result = occo.plan(infra_id=infra_id)
        return jsonify(redact(result))

    def rollback(infra_id: str) -> tuple[Response, int]:
        result = work.start_rollback(infra_id,
                                     keep_on_failure=_flag("keep_on_failure", False))
        return jsonify(result), 202

    def events(infra_id: str) -> Response:
        after = _int_arg("after", 0, 0)
        limit = min(_int_arg("limit", 1000, 1), 10_000)
        items = occo.events(infra_id, after=after, limit=limit)
        return jsonify(redact({"infraid": infra_id, "events": items,
                               "last": items[-1]["position"] if items else after}))

    def notify(infra_id: str) -> Response:
        description_of(occo, infra_id)
        return _error(501, {"error": "NotImplemented",
                            "message": "notifications are not supported by OCCO; follow "
                                       f"GET /infrastructures/{infra_id}/events instead"})

    info_router = InfoRouter([StoreProvider(occo.store)])

    def info(key: str) -> Response:
        """Occopus's ``/info/<key>``: a key of the info router, its arguments as query
        parameters, answered as ``{"result": ...}``."""
        if key in REFUSED_INFO_KEYS:
            return _error(403, {"error": "Forbidden",
                                "message": f"info key {key!r} is not served: "
                                           f"{REFUSED_INFO_KEYS[key]}"})
        params: dict[str, Any] = dict(request.args.items())
        for name in ("after", "limit"):
            if name in params:
                params[name] = _count(params[name].strip(), f"query parameter {name}", 0)
        try:
            result = info_router.get(key, **params)
        except InfoArgumentError as exc:
            return _error(400, exc.to_dict())
        except InfoKeyError as exc:
            return _error(404, exc.to_dict())
        return jsonify(redact({"result": result}))

    INFRA = "/infrastructures/<infra_id>"
    route("/health", "health", health, ["GET"])
    route("/openapi.json", "openapi", openapi, ["GET"])
    route("/infrastructures/", "list", list_infrastructures, ["GET"])
    route("/infrastructures/", "create", create, ["POST"])
    route(INFRA, "show", show, ["GET"])
    route(INFRA, "delete", delete, ["DELETE"])
    route(f"{INFRA}/attach", "attach", attach, ["POST"])
    route(f"{INFRA}/detach", "detach", detach, ["POST"])
    route(f"{INFRA}/scaleup/<node>", "scaleup", scaleup, ["POST"])
    route(f"{INFRA}/scaleup/<node>/<count>", "scaleup_n", scaleup, ["POST"])
    route(f"{INFRA}/scaledown/<node>", "scaledown", scaledown, ["POST"])
    route(f"{INFRA}/scaledown/<node>/<nodeid>", "scaledown_one", scaledown, ["POST"])
    route(f"{INFRA}/scaleto/<node>/<count>", "scaleto", scaleto, ["POST"])
    route(f"{INFRA}/plan", "plan", plan, ["GET", "POST"])
    route(f"{INFRA}/rollback", "rollback", rollback, ["POST"])
    route(f"{INFRA}/events", "events", events, ["GET"])
    route(f"{INFRA}/notify", "notify", notify, ["POST"])
    route("/info/<key>", "info", info, ["GET"])
    return app


# ---------------------------------------------------------------------- the service

def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RestService:
    """The application served by waitress, plus the maintenance loop, in this process.

    With ``scaling_host`` a second listener serves the scale paths alone, authorised only
    by scaling secrets, on ``scaling_host:scaling_port`` (default port 5001): the address
    the nodes reach, while the full API stays on ``host`` (loopback by default).
    """

    def __init__(self, config: Config, *, auth_data: str | Path | None = None,
                 host: str | None = None, port: int | None = None,
                 occo: Occo | None = None, scaling_host: str | None = None,
                 scaling_port: int | None = None, scaling_rate: int | None = None) -> None:
        settings = config.rest
        scaling_host = scaling_host or settings.get("scaling_host")
        if scaling_port is None:
            scaling_port = settings.get("scaling_port")
        scaling_rate = scaling_rate or settings.get("scaling_rate") or SCALING_RATE
        self.scaling_host = scaling_host
        self.host = host or settings["host"]
        self.token_file = Path(settings["token_file"]).expanduser()
        self.token, self.token_created = ensure_token(self.token_file)
        self.stop_event = threading.Event()
        self._own_occo = occo is None
        self.occo = occo or Occo(config, auth_data=auth_data)
        try:
            self.work = Work(self.occo, self.stop_event)
            self.limiter = RateLimiter(scaling_rate)
            # an event stream holds a worker thread while it is open: a third of them
            self.app = create_app(self.occo, self.work, token=self.token,
                                  max_body=settings["max_body"],
                                  cors_origins=settings["cors_origins"], limiter=self.limiter,
                                  max_streams=max(1, settings["threads"] // 3))

            def listen(app: Flask, host: str, port: int) -> Any:
                try:
                    return create_guarded_server(
                        app, host=host, port=port, threads=settings["threads"], ident="occo",
                        max_request_body_size=max(4 * settings["max_body"], 1 << 20),
                        clear_untrusted_proxy_headers=True)
                except OSError as exc:
                    raise OccoError(f"cannot listen on {host}:{port}: "
                                    f"{exc.strerror or exc}") from exc

            self.server = listen(self.app, self.host,
                                 settings["port"] if port is None else port)
            self.scaling_server = None
            if scaling_host:
                self.scaling_app = create_app(self.occo, self.work, token=self.token,
                                              max_body=settings["max_body"],
                                              limiter=self.limiter, scaling_only=True)
                try:
                    self.scaling_server = listen(self.scaling_app, scaling_host,
                                                 5001 if scaling_port is None else scaling_port)
                except BaseException:
                    self._close_server(self.server)
                    raise
        except BaseException:
            if self._own_occo:
                self.occo.close()
            raise
        self.port = int(self.server.effective_port)
        self.scaling_port = (int(self.scaling_server.effective_port)
                             if self.scaling_server is not None else None)
        self._threads: list[threading.Thread] = []

    @staticmethod
    def _close_server(server: Any) -> None:
        from waitress import wasyncore
        wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown(timeout=5)

    @property
    def scaling_url(self) -> str | None:
        if self.scaling_server is None or self.scaling_host is None:
            return None
        host = f"[{self.scaling_host}]" if ":" in self.scaling_host else self.scaling_host
        return f"http://{host}:{self.scaling_port}"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _servers(self) -> list[Any]:
        return [self.server] + ([self.scaling_server] if self.scaling_server else [])

    def start(self) -> None:
        targets = [("occo-rest-http", self.server.run)]
        if self.scaling_server is not None:
            targets.append(("occo-rest-scaling", self.scaling_server.run))
        for name, target in (*targets, ("occo-rest-maintain", self.work.maintain)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Stop answering and maintaining; wait up to ``timeout`` s for builds and destroys.

        Returns the ids of jobs still running (left to the next maintenance pass, as their
        infrastructures are attached); the system is closed only when there are none.
        """
        from waitress import wasyncore

        self.stop_event.set()
        servers = self._servers()
        for server in servers:  # requests in flight end first: a task that ends after its
            server.task_dispatcher.shutdown(timeout=5)  # server's trigger closed fails EBADF
        for index, server in enumerate(servers):
            serving = len(self._threads) > index and self._threads[index].is_alive()
            try:
                if serving:  # close the sockets in the server's own thread, which then ends
                    server.trigger.pull_trigger(
                        lambda server=server: wasyncore.close_all(server._map))
            except OSError as exc:
                log.warning("could not wake the HTTP server to stop it: %s", exc)
                serving = False
            if not serving:
                wasyncore.close_all(server._map)
        for thread in self._threads:
            thread.join(timeout)
        left = self.work.wait(timeout)
        alive = [t.name for t in self._threads if t.is_alive()]
        if left or alive:
            log.warning("stopping with work in progress (%s); attached infrastructures are "
                        "resumed by the next maintenance pass", ", ".join(left + alive))
        elif self._own_occo:
            self.occo.close()
        return left


def serve(config: Config, *, auth_data: str | Path | None = None, host: str | None = None,
          port: int | None = None, out: TextIO | None = None,
          stop: threading.Event | None = None, scaling_host: str | None = None,
          scaling_port: int | None = None) -> int:
    """Run the REST service until SIGINT/SIGTERM (or ``stop``); the exit status."""
    out = out or sys.stdout
    service = RestService(config, auth_data=auth_data, host=host, port=port,
                          scaling_host=scaling_host, scaling_port=scaling_port)
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        service.start()
        if service.token_created:
            out.write(f"a new REST token was made and stored in {service.token_file} "
                      f"(mode 0600); clients send it as 'Authorization: Bearer <token>':\n"
                      f"  {service.token}\n")
        else:
            out.write(f"REST token: in {service.token_file}\n")
        out.write(f"OCCO REST service listening on {service.url}/ (OpenAPI document at "
                  f"/openapi.json); maintaining attached infrastructures; stop with Ctrl-C "
                  "or SIGTERM\n")
        out.write(f"dashboard: {service.url}/ui/ (log in with the token)\n")
        if service.scaling_url:
            out.write(f"scale paths for the nodes (scaling secret only, at most "
                      f"{service.limiter.per_minute} a minute per infrastructure) on "
                      f"{service.scaling_url}/\n")
        if not is_loopback(service.host):
            out.write(f"warning: {service.host} is reachable from other machines; the token "
                      "is the only protection and HTTP is not encrypted (put a TLS proxy in "
                      "front)\n")
        out.flush()
        stop.wait()
        out.write("stopping\n")
        out.flush()
        left = service.stop()
        out.write(f"stopped ({len(left)} build(s)/destroy(s) left to resume)\n" if left
                  else "stopped\n")
        out.flush()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0

