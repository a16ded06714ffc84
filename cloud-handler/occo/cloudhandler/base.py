"""The cloud handler contract: the state enum, the status objects, and the base class.

A backend subclasses :class:`CloudHandler` and implements the ``_``-prefixed methods; the
public methods are template methods that validate the input, log, and attach the node to
any error, so every backend behaves the same at its boundary. Backends are registered in
the entry point group ``occo.cloudhandler`` under their resource ``type``.

A handler instance serves one cloud endpoint (``endpoint_key``) with one credentials
entry; :class:`~occo.cloudhandler.service.CloudHandlerService` keeps one per endpoint.

Resource references ("refs") are the JSON-able dicts ``create_node`` returns. The info
broker stores them and hands them back to ``drop_node``, ``get_states`` and
``get_addresses``, possibly in another process after a restart, so a ref carries
everything needed to find the resource again, and never a credential::

    {"instance_id": ..., "infra_id": ..., "node_name": ..., "type": "ec2",
     "endpoint": "<endpoint key>", "resource": {<resource section, secrets removed>},
     "resource_id": "<the cloud's own id>", ...backend fields}

A ref may also be a *lookup* ref, written by the processor when a create's answer never
arrived: ``{"instance_id", "infra_id", "resource", "lookup": true}``. Every backend must
accept it: it finds the resource by OCCO's instance id (tag, directory, record).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from occo.util import (
    CloudLimits,
    CredentialEntry,
    InputError,
    InputErrors,
    NodeSpec,
    OccoError,
    Schema,
    is_secret_key,
)
from occo.util.comm import NodeAddresses, NodeStatus, ResourceState

__all__ = ["ResourceState", "NodeStatus", "NodeAddresses", "CloudHandler",
           "BatchCreatingHandler", "ref_resource",
           "Clock", "about_node", "MAX_WATCH"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]

#: The longest a watch_states call waits (seconds), whatever its caller asks.
MAX_WATCH = 5.0


class AddressCache:
    """Addresses a state poll has just seen, reused by the next ``get_addresses`` for
    ``ttl`` seconds so that it costs no second round of API calls."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._seen: dict[str, tuple[float, NodeAddresses]] = {}

    def put(self, instance_id: str, addresses: NodeAddresses | None) -> None:
        """Remember (or, for None, forget) what the cloud says now."""
        if addresses is None:
            self._seen.pop(instance_id, None)
        else:
            self._seen[instance_id] = (time.monotonic(), addresses)

    def drop(self, instance_id: str) -> None:
        self._seen.pop(instance_id, None)

    def split(self, refs: Sequence[Mapping[str, Any]]
              ) -> tuple[dict[str, NodeAddresses], list[Mapping[str, Any]]]:
        """The addresses still fresh, and the refs the cloud must be asked about."""
        now = time.monotonic()
        known: dict[str, NodeAddresses] = {}
        ask: list[Mapping[str, Any]] = []
        for ref in refs:
            iid = str(ref["instance_id"])
            seen = self._seen.get(iid)
            if seen is not None and now - seen[0] < self.ttl:
                known[iid] = seen[1]
            else:
                ask.append(ref)
        return known, ask


def ref_resource(resource: Mapping[str, Any], keys: Iterable[str] | None = None) -> dict:
    """The part of a resource section a ref keeps: ``keys`` (or all), secrets left out."""
    wanted = resource.keys() if keys is None else (k for k in keys if k in resource)
    return {k: resource[k] for k in wanted if not is_secret_key(k)}


class CloudHandler(ABC):
    """One cloud endpoint, reached with one credentials entry (or none).

    Class attributes a backend sets:

    - ``type_name``: the resource ``type`` it serves;
    - ``schema``: the :class:`~occo.util.Schema` of its resource section;
    - ``needs_credentials``: whether an ``auth_data`` entry must match its resources;
    - ``accepts_credentials``: (with ``needs_credentials`` False) whether an entry is used
      when one matches, the handler running without one otherwise (docker: registry
      logins are optional);
    - ``ref_keys``: the resource keys a ref keeps (None: all but secret-named ones);
    - ``STATE_MAP``: the backend's raw states mapped to :class:`ResourceState`;
    - ``limits``: the pace its cloud bears (:class:`~occo.util.CloudLimits`: calls in
      flight, nodes per second, batch size, polling cadence), the processor's default for
      its endpoints (docs/user/clouds.rst lists each backend's).

    - ``watches``: whether it implements ``_watch_states``: it can wait for its nodes'
      state changes as they happen (process exits, the engine's event stream), so the
      processor learns them when they happen rather than at its next poll.

    A ref may carry ``ready_at`` (seconds since the epoch): when the backend expects the
    node to run. The processor looks then rather than polling before it.
    """

    type_name: ClassVar[str]
    schema: ClassVar[Schema]
    needs_credentials: ClassVar[bool] = True
    accepts_credentials: ClassVar[bool] = False
    ref_keys: ClassVar[tuple[str, ...] | None] = None
    STATE_MAP: ClassVar[Mapping[str, ResourceState]] = {}
    limits: ClassVar[CloudLimits] = CloudLimits()
    watches: ClassVar[bool] = False

    def __init__(self, resource: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
                 auth: CredentialEntry | None = None, clock: Clock | None = None) -> None:
        self.endpoint = self.endpoint_key(resource)
        self.config: Mapping[str, Any] = dict(config or {})
        self.auth = auth
        #: set when the handler closes: a watch under way returns at once
        self.closing = threading.Event()
        if clock is not None:
            self.clock = clock

    # ------------------------------------------------------------- class-level facts

    @classmethod
    @abstractmethod
    def endpoint_key(cls, resource: Mapping[str, Any]) -> str:
        """Which endpoint a resource section talks to (``ec2:<url>|<region>``, ...)."""

    @classmethod
    def map_state(cls, raw: str | None) -> ResourceState:
        return cls.STATE_MAP.get(raw or "", ResourceState.UNKNOWN)

    #: Seconds since the epoch; tests give a handler a clock they advance themselves.
    clock: Clock = staticmethod(time.time)

    # ---------------------------------------------------------------- template methods

    def create_node(self, spec: NodeSpec) -> dict[str, Any]:
        """Create the resource for ``spec`` once; asking again returns the same ref."""
        spec = self.check_resource(spec)
        try:
            ref = self._create_node(spec)
        except OccoError as exc:
            raise about_node(exc, spec.node_name, spec.infra_id, spec.instance_id) from exc
        log.debug("created %s for node %s (%s)", ref.get("resource_id"), spec.node_name,
                  spec.instance_id)
        return ref

    def create_nodes(self, specs: Sequence[NodeSpec]) -> list[dict[str, Any] | OccoError]:
        """Create several; each item is the ref or the error for that spec."""
        out: list[dict[str, Any] | OccoError] = []
        for spec in specs:
            try:
                out.append(self.create_node(spec))
            except OccoError as exc:
                out.append(exc)
        return out

    def drop_node(self, ref: Mapping[str, Any]) -> None:
        """Remove the resource; what is already gone (or never was) is success."""
        [error] = self.drop_nodes([ref])
        if error is not None:
            raise error

    def drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[OccoError | None]:
        """Drop several; each item is None (dropped or already gone) or the error."""
        if not refs:
            return []
        try:
            results = self._drop_nodes(refs)
        except OccoError as exc:
            return [about_node(exc, r.get("node_name"), r.get("infra_id"), r.get("instance_id"))
                    for r in refs]
        return [None if err is None else
                about_node(err, r.get("node_name"), r.get("infra_id"), r.get("instance_id"))
                for r, err in zip(refs, results)]

    def get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeStatus]:
        """The state of each ref, by instance id, in as few cloud calls as possible."""
        if not refs:
            return {}
        return self._get_states(refs)

    def get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeAddresses]:
        """Addresses of the refs that have them (others are left out), by instance id."""
        if not refs:
            return {}
        return self._get_addresses(refs)

    def watch_states(self, refs: Sequence[Mapping[str, Any]], known: Mapping[str, str],
                     timeout: float) -> dict[str, NodeStatus]:
        """Wait until one of ``refs`` is in another state than ``known`` says (its
        :class:`ResourceState` value, by instance id; a ref left out of ``known`` counts as
        ``pending``), at most ``timeout`` seconds (and :data:`MAX_WATCH`); the statuses of
        those that changed, empty if none did. Only for a backend that ``watches``."""
        if not refs:
            return {}
        if not self.watches:
            raise NotImplementedError(f"the {self.type_name} backend does not watch states")
        wait = max(0.0, min(float(timeout), MAX_WATCH))
        return self._watch_states(refs, known, wait)

    @staticmethod
    def changed(states: Mapping[str, NodeStatus], known: Mapping[str, str]
                ) -> dict[str, NodeStatus]:
        """The statuses in ``states`` whose state is not the one ``known`` gives."""
        return {iid: status for iid, status in states.items()
                if status.state.value != known.get(iid, ResourceState.PENDING.value)}

    def list_nodes(self, infra_id: str) -> list[dict[str, Any]]:
        """Refs of every live resource on this endpoint that carries ``infra_id``'s tags."""
        return self._list_nodes(infra_id)

    def close(self) -> None:
        """Release connections and files (the resources themselves stay)."""

    # ------------------------------------------------------------------- helpers

    def check_resource(self, spec: NodeSpec) -> NodeSpec:
        """Validate the rendered resource section with the backend's schema; ``spec``
        with the section as the schema keeps it (values converted the way Occopus reads
        them, optional keys given as null left out), the compiler's own treatment.

        The compiler checked the section as written; this checks it as rendered (a
        template may have produced a wrong value). The section no longer has a file
        location here, so the errors name the node and the key.
        """
        checked = self.schema.validate(dict(spec.resource), "resource")
        problems = checked.errors
        if not problems:
            kept = checked.value
            return spec if kept == spec.resource else replace(spec, resource=kept)
        errors = []
        for err in problems:
            # the schema gives every error a location with its path (``validate`` has one)
            path = err.location.path if err.location else None
            errors.append(InputError(f"node {spec.node_name!r}: {path + ': ' if path else ''}"
                                     f"{err.message}", node=spec.node_name,
                                     infra_id=spec.infra_id))
        raise errors[0] if len(errors) == 1 else InputErrors(errors)

    def make_ref(self, spec: NodeSpec, resource_id: str, **fields: Any) -> dict[str, Any]:
        """The ref every backend returns: ids, type, endpoint, resource, backend fields."""
        return {"instance_id": spec.instance_id, "infra_id": spec.infra_id,
                "node_name": spec.node_name, "type": self.type_name, "endpoint": self.endpoint,
                "resource": ref_resource(spec.resource, self.ref_keys),
                "resource_id": resource_id, **fields}

    def bad_resource(self, spec: NodeSpec, message: str) -> InputError:
        from .errors import BadResource
        return BadResource(f"node {spec.node_name!r}: {message}", node=spec.node_name,
                           infra_id=spec.infra_id)

    # ---------------------------------------------------------- backend operations

    @abstractmethod
    def _create_node(self, spec: NodeSpec) -> dict[str, Any]:
        """Create (or find, if it exists) the resource for ``spec``; return its ref."""

    @abstractmethod
    def _drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[OccoError | None]:
        """Drop each ref's resource; None for success (already gone counts as success)."""

    @abstractmethod
    def _get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeStatus]:
        """State of every ref, by instance id (MISSING for what the cloud does not know)."""

    @abstractmethod
    def _get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeAddresses]:
        """Addresses of the refs that have them, by instance id."""

    @abstractmethod
    def _list_nodes(self, infra_id: str) -> list[dict[str, Any]]:
        """Refs of every live resource tagged with ``infra_id`` on this endpoint."""

    def _watch_states(self, refs: Sequence[Mapping[str, Any]], known: Mapping[str, str],
                      timeout: float) -> dict[str, NodeStatus]:
        """Wait for a state change (see watch_states); for a backend that ``watches``."""
        raise NotImplementedError


def about_node(exc: OccoError, node: Any, infra_id: Any, instance_id: Any) -> OccoError:
    """``exc`` with the node (and infrastructure) it concerns recorded and named."""
    if node and exc.node is None:
        exc.node = str(node)
        if f"node {node!r}" not in exc.message:
            where = f"node {node!r}" + (f" ({instance_id})" if instance_id else "")
            exc.message = f"{where}: {exc.message}"
            exc.args = (exc.message,)
    if infra_id and exc.infra_id is None:
        exc.infra_id = str(infra_id)
    return exc


class BatchCreatingHandler(CloudHandler):
    """A backend whose creates share calls (one lookup for a whole batch):
    ``create_nodes`` checks every spec against the template first, then hands the good
    ones to ``_create_batch`` together; one create is a batch of one."""

    @abstractmethod
    def _create_batch(self, specs: Sequence[NodeSpec]) -> list[dict[str, Any] | OccoError]:
        """The ref or the error of each (checked) spec, in order."""

    def _create_node(self, spec: NodeSpec) -> dict[str, Any]:
        result = self._create_batch([spec])[0]
        if isinstance(result, OccoError):
            raise result
        return result

    def create_nodes(self, specs: Sequence[NodeSpec]) -> list[dict[str, Any] | OccoError]:
        """Create several with one lookup first (the template's checks per spec)."""
        out: list[dict[str, Any] | OccoError | None] = [None] * len(specs)
        todo: list[tuple[int, NodeSpec]] = []
        for i, spec in enumerate(specs):
            try:
                todo.append((i, self.check_resource(spec)))
            except OccoError as exc:
                out[i] = exc
        if todo:
            try:
                results = self._create_batch([spec for _, spec in todo])
            except OccoError as exc:
                results = [exc] * len(todo)
            for (i, spec), result in zip(todo, results):
                if isinstance(result, OccoError):
                    result = about_node(result, spec.node_name, spec.infra_id, spec.instance_id)
                out[i] = result
        return [item for item in out if item is not None]
