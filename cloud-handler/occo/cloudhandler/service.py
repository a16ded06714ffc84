"""``CloudHandlerService``: what the rest of OCCO calls to create and watch resources.

It is served as the ``cloudhandler`` endpoint of ``occo.util.comm`` (in-process or over
AMQP), so every input and output is a JSON-able dict. It finds backends by resource
``type`` in the entry point group ``occo.cloudhandler``, chooses credentials for each
resource section (FORMATS.md section 5), and keeps one handler per (type, endpoint,
credentials entry). Batched calls are grouped by handler, so each endpoint gets one call
per batch (one ``DescribeInstances`` for many EC2 instances).

Batch results follow the processor's convention: ``create_nodes`` answers a list with one
``{"ref": ...}`` or ``{"error": ...}`` per spec, ``drop_nodes`` one ``{}`` or
``{"error": ...}`` per ref (errors as ``occo.util.comm.encode_error`` data, with
``retryable``). A failing endpoint never spoils another endpoint's answers: its refs get
``{"state": "unknown", "detail": <why>}`` from ``get_states``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from occo.util import (
    CLOUD_HANDLER_GROUP,
    LIMIT_SETTINGS,
    RESOURCE_SCHEMA_GROUP,
    Credentials,
    InputError,
    NodeSpec,
    OccoError,
    PluginNotFoundError,
    configured_limits,
    load_plugin,
    plugin_names,
)
from occo.util.comm import CloudHandlerEndpoint, encode_error, methods_of

from .base import Clock, CloudHandler, ResourceState
from .errors import NoBackend

__all__ = ["CloudHandlerService", "HANDLER_GROUP", "SCHEMA_GROUP", "installed_types"]

log = logging.getLogger(__name__)

HANDLER_GROUP = CLOUD_HANDLER_GROUP
SCHEMA_GROUP = RESOURCE_SCHEMA_GROUP


def installed_types() -> list[str]:
    """The resource types that have a backend here: the names :meth:`CloudHandlerService.
    handler_class` can load (entry point group ``occo.cloudhandler``), sorted."""
    return plugin_names(HANDLER_GROUP)


class CloudHandlerService:
    """Creates, drops and watches resources on every configured cloud.

    ``config`` maps a resource type to its handler configuration (``{"local": {"root":
    ...}, "dummy": {"store": ...}, "ec2": {"max_attempts": 4}}``); ``credentials`` is the
    loaded ``auth_data.yaml`` (``occo.util.load_credentials``), or None when only clouds
    without credentials (dummy, local) are used.
    """

    RPC_METHODS = methods_of(CloudHandlerEndpoint)

    def __init__(self, config: Mapping[str, Any] | None = None,
                 credentials: Credentials | None = None, *, clock: Clock | None = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.credentials = credentials or Credentials.empty()
        self.clock = clock
        self._classes: dict[str, type[CloudHandler]] = {}
        self._handlers: dict[tuple, CloudHandler] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lookup

    def handler_class(self, kind: Any, *, node: str | None = None) -> type[CloudHandler]:
        """The backend class for resource type ``kind``."""
        cls = self._classes.get(kind)
        if cls is not None:
            return cls
        if not isinstance(kind, str) or not kind:
            raise InputError(f"{_who(node)}the resource section has no 'type'; types with a "
                             f"backend: {', '.join(installed_types())}", node=node)
        try:
            cls = load_plugin(HANDLER_GROUP, kind)
        except PluginNotFoundError as exc:
            if kind in plugin_names(SCHEMA_GROUP):
                raise NoBackend(kind, exc.available, node=node) from None
            raise InputError(f"{_who(node)}unknown resource type {kind!r}; types with a "
                             f"backend: {', '.join(exc.available) or 'none'}", node=node) from None
        self._classes[kind] = cls
        return cls

    def handler_for(self, resource: Mapping[str, Any], *, node: str | None = None) -> CloudHandler:
        """The handler for a resource section (created on first use, then reused)."""
        cls = self.handler_class(resource.get("type"), node=node)
        endpoint = cls.endpoint_key(resource)
        auth = None
        if cls.needs_credentials or (cls.accepts_credentials and
                                     self.credentials.candidates("resource", resource)):
            auth = self.credentials.match("resource", resource, node=node)
            key: tuple = (cls.type_name, endpoint, auth.index)
        else:
            key = (cls.type_name, endpoint)
        handler = self._handlers.get(key)
        if handler is None:
            with self._lock:
                handler = self._handlers.get(key)
                if handler is None:
                    handler = cls(resource, config=self.handler_config(cls.type_name),
                                  auth=auth, clock=self.clock)
                    self._handlers[key] = handler
                    log.debug("cloud handler for %s ready", endpoint)
        return handler

    def endpoint_key(self, resource: Mapping[str, Any]) -> str:
        """The endpoint a resource section talks to, for per-endpoint concurrency limits."""
        return self.handler_class(resource.get("type")).endpoint_key(resource)

    def handler_config(self, kind: str) -> dict[str, Any]:
        """``clouds.<kind>`` as the backend sees it: its own settings, without the limits
        (``limits``, ``endpoints``), which are the processor's."""
        return {k: v for k, v in (self.config.get(kind) or {}).items()
                if k not in LIMIT_SETTINGS}

    def configured_limits(self, kind: str, endpoint: str | None = None) -> dict[str, Any]:
        """The limits the configuration sets for backend ``kind`` (``clouds.<kind>.limits``)
        and, over them, for one of its endpoints (``clouds.<kind>.endpoints.<key>.limits``);
        a bad one is a ConfigError naming its path."""
        return configured_limits(self.config.get(kind), kind, endpoint)

    def limits(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """The pace for the endpoint of ``resource``: ``{"endpoint", "cloud": the backend's
        defaults, "configured": what clouds.<type> sets over them, "watches": whether
        its backend can wait for state changes (watch_states)}`` (the processor puts its
        own ``processing:`` settings between the two)."""
        cls = self.handler_class(resource.get("type"))
        endpoint = cls.endpoint_key(resource)
        return {"endpoint": endpoint, "cloud": cls.limits.to_dict(),
                "configured": self.configured_limits(cls.type_name, endpoint),
                "watches": cls.watches}

    def preflight(self, resource: Mapping[str, Any], node: str | None = None) -> str:
        """Check, before anything is created, that ``resource`` has a backend and (where
        it needs them) exactly one matching credentials entry; returns its endpoint key.
        Raises the same errors a create would, naming ``node``."""
        cls = self.handler_class(resource.get("type"), node=node)
        if cls.needs_credentials or (cls.accepts_credentials and
                                     self.credentials.candidates("resource", resource)):
            self.credentials.match("resource", resource, node=node)
        # the handler itself: its settings (a local root that cannot be made, ...) fail
        # here, before the build stores anything
        return self.handler_for(resource, node=node).endpoint

    def backends(self) -> dict[str, list[str]]:
        """Installed backends and resource schemas, by name."""
        return {"handlers": installed_types(), "schemas": plugin_names(SCHEMA_GROUP)}

    # ---------------------------------------------------------------- creating

    def create_node(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create one node instance (idempotent on its instance id); return its ref."""
        node_spec = _spec(spec)
        handler = self.handler_for(node_spec.resource, node=node_spec.node_name)
        return handler.create_node(node_spec)

    def create_nodes(self, specs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create several; one ``{"ref": ...}`` or ``{"error": ...}`` per spec, in order."""
        out: list[dict[str, Any]] = [{}] * len(specs)
        groups: dict[int, tuple[CloudHandler, list[tuple[int, NodeSpec]]]] = {}
        for i, raw in enumerate(specs):
            try:
                spec = _spec(raw)
                handler = self.handler_for(spec.resource, node=spec.node_name)
            except OccoError as exc:
                out[i] = {"error": encode_error(exc)}
                continue
            groups.setdefault(id(handler), (handler, []))[1].append((i, spec))
        for handler, items in groups.values():
            try:
                results = handler.create_nodes([spec for _, spec in items])
            except OccoError as exc:
                results = [exc] * len(items)
            for (i, _), result in zip(items, results):
                out[i] = {"error": encode_error(result)} if isinstance(result, BaseException) \
                    else {"ref": result}
        return out

    # ---------------------------------------------------------------- dropping

    def drop_node(self, ref: Mapping[str, Any]) -> dict[str, Any]:
        """Drop one resource; success when it is already gone. Answers ``{}``."""
        if self._never_created(ref):
            return {}
        handler = self._route(ref)
        handler.drop_node(ref)
        return {}

    def drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Drop several; one ``{}`` or ``{"error": ...}`` per ref, in order."""
        out: list[dict[str, Any]] = [{}] * len(refs)
        routed = [(i, ref) for i, ref in enumerate(refs) if not self._never_created(ref)]
        errors: list[dict[str, Any]] = [{}] * len(routed)
        for handler, items in self._group([ref for _, ref in routed], errors).values():
            results = handler.drop_nodes([ref for _, ref in items])
            for (j, _), error in zip(items, results):
                out[routed[j][0]] = {} if error is None else {"error": encode_error(error)}
        for (i, _), failure in zip(routed, errors):
            if failure:
                out[i] = failure
        return out

    # ---------------------------------------------------------------- watching

    def get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """``{instance_id: {"state": ..., "detail": ...}}``; one call per endpoint."""
        out: dict[str, dict[str, Any]] = {}
        failed: list[dict[str, Any]] = [{}] * len(refs)
        for handler, items in self._group(refs, failed).values():
            group = [ref for _, ref in items]
            try:
                states = handler.get_states(group)
            except OccoError as exc:
                log.warning("state poll of %s failed: %s", handler.endpoint, exc)
                detail = str(exc)
                for ref in group:
                    out[str(ref.get("instance_id"))] = {"state": ResourceState.UNKNOWN.value,
                                                        "detail": detail}
                continue
            for iid, status in states.items():
                out[iid] = status.to_json()
        for ref, result in zip(refs, failed):
            if "error" in result:
                out[str(ref.get("instance_id"))] = {"state": ResourceState.UNKNOWN.value,
                                                    "detail": result["error"]["text"]}
        return out

    def watch_states(self, refs: Sequence[Mapping[str, Any]], known: Mapping[str, str],
                     timeout: float) -> dict[str, dict[str, Any]]:
        """Wait (at most ``timeout`` s, and MAX_WATCH) until one of ``refs`` (of one
        endpoint whose backend ``watches``) is in another state than ``known`` gives
        (``{instance_id: state}``); ``{instance_id: {"state", "detail"}}`` of those that
        changed, empty if none did or the backend cannot watch."""
        groups = list(self._group(refs, [{}] * len(refs)).values())
        if len(groups) != 1 or not groups[0][0].watches:
            return {}
        handler, items = groups[0]
        try:
            found = handler.watch_states([ref for _, ref in items], dict(known), timeout)
        except OccoError as exc:
            log.warning("watching the states of %s failed: %s", handler.endpoint, exc)
            return {}
        return {iid: status.to_json() for iid, status in found.items()}

    def get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """``{instance_id: {"addresses", "private_addresses", "checkable"}}`` for the refs
        that have addresses; one call per endpoint. Others are left out."""
        out: dict[str, dict[str, Any]] = {}
        for handler, items in self._group(refs, [{}] * len(refs)).values():
            try:
                found = handler.get_addresses([ref for _, ref in items])
            except OccoError as exc:
                log.warning("reading addresses from %s failed: %s", handler.endpoint, exc)
                continue
            for iid, addresses in found.items():
                out[iid] = addresses.to_json()
        return out

    def list_nodes(self, infra_id: str,
                   resources: Iterable[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Refs of every live resource tagged with ``infra_id``, for adoption and orphan
        sweeps. ``resources`` are the resource sections the infrastructure uses: each of
        their endpoints is asked once. Without them, the endpoints this service has
        already talked to are asked."""
        if resources is None:
            with self._lock:
                handlers = list(self._handlers.values())
        else:
            unique: dict[int, CloudHandler] = {}
            for resource in resources:
                if self._no_backend(resource.get("type")):
                    continue  # nothing of that type can have been made here
                handler = self.handler_for(resource)
                unique.setdefault(id(handler), handler)
            handlers = list(unique.values())
        out: list[dict[str, Any]] = []
        for handler in handlers:
            out.extend(handler.list_nodes(infra_id))
        return out

    def close(self) -> None:
        """Close every handler (connections, files); resources are left as they are."""
        with self._lock:
            handlers = list(self._handlers.values())
            self._handlers.clear()
        for handler in handlers:
            handler.closing.set()   # a watch under way returns
        for handler in handlers:
            handler.close()

    # ----------------------------------------------------------------- helpers

    def _no_backend(self, kind: Any) -> bool:
        """A resource type no backend is installed for here (``nova`` in this release)."""
        return isinstance(kind, str) and bool(kind) and kind not in self._classes \
            and kind not in installed_types()

    def _never_created(self, ref: Mapping[str, Any]) -> bool:
        """A drop of an instance no backend ever answered for (a ``lookup`` ref: the
        cloud gave no reference) whose type has no backend: nothing can exist, so the
        drop succeeds without a call (a build stored before its backend was checked)."""
        resource = ref.get("resource")
        if not ref.get("lookup") or not isinstance(resource, Mapping) \
                or not self._no_backend(resource.get("type")):
            return False
        log.info("instance %s of type %r was never created (no backend): nothing to drop",
                 ref.get("instance_id"), resource.get("type"))
        return True

    def _route(self, ref: Mapping[str, Any]) -> CloudHandler:
        resource = ref.get("resource")
        if not isinstance(resource, Mapping):
            raise InputError(f"{_who(ref.get('node_name'))}the resource reference of instance "
                             f"{ref.get('instance_id')!r} has no resource section; it was not "
                             "made by a cloud handler", node=ref.get("node_name"))
        return self.handler_for(resource, node=ref.get("node_name"))

    def _group(self, refs: Sequence[Mapping[str, Any]], errors: list[dict[str, Any]],
               ) -> dict[int, tuple[CloudHandler, list[tuple[int, Mapping[str, Any]]]]]:
        """Refs grouped by handler; a ref that cannot be routed gets its error in ``errors``."""
        groups: dict[int, tuple[CloudHandler, list[tuple[int, Mapping[str, Any]]]]] = {}
        known: dict[tuple, CloudHandler] = {}   # refs of clouds without credentials
        for i, ref in enumerate(refs):
            try:
                key = (ref.get("type"), ref.get("endpoint"))
                handler = known.get(key)
                if handler is None:
                    handler = self._route(ref)
                    if not (handler.needs_credentials or handler.accepts_credentials) \
                            and key[0] and key[1]:
                        known[key] = handler
            except OccoError as exc:
                errors[i] = {"error": encode_error(exc)}
                continue
            groups.setdefault(id(handler), (handler, []))[1].append((i, ref))
        return groups


def _who(node: Any) -> str:
    return f"node {node!r}: " if node else ""


def _spec(raw: Mapping[str, Any] | NodeSpec) -> NodeSpec:
    if isinstance(raw, NodeSpec):
        return raw
    try:
        return NodeSpec.from_dict(raw)
    except (KeyError, TypeError) as exc:
        raise InputError(f"a node spec needs instance_id, infra_id, node_name, node_type and "
                         f"resource; this one lacks {exc}") from exc
