"""``docker``: each node instance is a container on a Docker Engine (docker SDK).

- One container per node instance, named ``occo-<instance id>``, so a repeated create
  finds the same container; labelled with OCCO's tags (``occo:infra_id``,
  ``occo:node``, ``occo:instance_id``) and the user's. A container that holds the name
  without OCCO's label for that instance is refused
  (:class:`~occo.cloudhandler.errors.ResourceConflict`), never adopted or removed.
- Everything after the create finds containers by label, not by name: one
  ``GET /containers/json`` per poll round for many nodes (label filter on the
  infrastructure when the round concerns one, else on ``occo:instance_id``).
- Drop = stop (``stop_timeout`` seconds of grace), then remove; what is gone is success.
- States: ``created``/``restarting`` -> pending, ``running`` -> running, ``paused`` ->
  stopped, ``removing`` -> stopping, ``exited``/``dead`` -> failed (detail: exit code and
  the last lines of the container's log), no container -> missing.
- Addresses: the container's addresses on its networks; with ``network: host`` the
  engine host's address (127.0.0.1 for a local engine), marked not checkable since it
  does not tell containers apart.
- Images by ``origin`` (:mod:`occo.cloudhandler._dockerimages`); the contextualisation
  of type ``docker`` gives ``env`` and ``command`` (input checks:
  :mod:`occo.cloudhandler._dockerplan`; the SDK client and error translation:
  :mod:`occo.cloudhandler._dockerapi`).

Handler config (``docker:`` in the service config, docs/docker.rst): ``timeout`` (60 s per
API call), ``stop_timeout`` (10 s), ``init`` (true: docker-init runs as PID 1 so the
command gets SIGTERM), ``max_parallel`` (4 creates or drops at once), ``api_version``
(``auto``), ``download_timeout``, ``max_download_bytes``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import docker
import requests
from docker import errors as docker_errors

from occo.util import (
    TAG_INFRA,
    TAG_INSTANCE,
    TAG_NODE,
    CloudLimits,
    CredentialEntry,
    NodeSpec,
    OccoError,
    scrub,
)

from ._dockerapi import CountingClient, translate
from ._dockerimages import ImageStore
from ._dockerplan import NAME_PREFIX, OCCO_ENV, Plan, container_name, plan_container
from .base import (
    AddressCache,
    Clock,
    CloudHandler,
    NodeAddresses,
    NodeStatus,
    ResourceState,
    about_node,
)
from .errors import BadResource, CloudError, CloudUnavailable, ImageNotFound, ResourceConflict
from .schemas import DOCKER

__all__ = ["DockerCloudHandler", "NAME_PREFIX", "container_name", "OCCO_ENV"]


log = logging.getLogger(__name__)

_SCHEMES = ("unix", "tcp", "http", "https")
_SPECIAL_NETWORKS = ("host", "none", "bridge", "default")
_LOG_LINES = 15
_LOG_BYTES = 2048
_ADDRESS_TTL = 60.0
_GONE = ("removing",)
_SETTLE_LOOKS, _SETTLE_GAP = 20, 0.05   # looks after an event until the list shows it
_WATCHED_EVENTS = ("start", "die", "stop", "kill", "oom", "pause", "unpause", "destroy",
                   "health_status")


class DockerCloudHandler(CloudHandler):
    """One Docker Engine, reached through its API socket or URL."""

    type_name = "docker"
    # one engine: a few creates at once keep it busy (each pulls, creates and starts)
    limits = CloudLimits(max_parallel=16, rate=0, batch_size=16, poll_interval=1.0,
                         first_poll=0.1)
    schema = DOCKER
    needs_credentials = False
    accepts_credentials = True   # a registry login, when an auth_data entry matches
    watches = True               # the engine's event stream says when a container changes
    STATE_MAP = {"created": ResourceState.PENDING, "restarting": ResourceState.PENDING,
                 "running": ResourceState.RUNNING, "paused": ResourceState.STOPPED,
                 "removing": ResourceState.STOPPING, "exited": ResourceState.FAILED,
                 "dead": ResourceState.FAILED}

    def __init__(self, resource: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
                 auth: CredentialEntry | None = None, clock: Clock | None = None) -> None:
        super().__init__(resource, config=config, auth=auth, clock=clock)
        self.url = str(resource.get("endpoint") or "")
        scheme = urlsplit(self.url).scheme
        #: why the endpoint cannot be used (raised, naming the node, before any call)
        self.endpoint_problem: str | None = None
        if scheme not in _SCHEMES or self.url.rstrip("/") in ("unix:", "tcp:"):
            self.endpoint_problem = (f"resource.endpoint {self.url!r} is not a Docker "
                                     "endpoint: use unix:///var/run/docker.sock, "
                                     "tcp://host:2375, http://host:port or "
                                     "https://host:2376")
        self.timeout = float(self.config.get("timeout", 60))
        self.stop_timeout = int(self.config.get("stop_timeout", 10))
        self.init = bool(self.config.get("init", True))
        self.max_parallel = max(1, int(self.config.get("max_parallel", 4)))
        self.api_version = str(self.config.get("api_version", "auto"))
        self.calls: Counter[str] = Counter()    # Engine API requests, by operation
        self._calls_lock = threading.Lock()
        self._client: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._networks: set[str] = set()
        self._failures: dict[str, NodeStatus] = {}   # container id -> its failed status
        self._addresses = AddressCache(_ADDRESS_TTL)
        self.images = ImageStore(
            self, download_timeout=float(self.config.get("download_timeout", 300)),
            max_download_bytes=int(self.config.get("max_download_bytes", 8 << 30)))

    @classmethod
    def endpoint_key(cls, resource: Mapping[str, Any]) -> str:
        return f"docker:{resource.get('endpoint')}"

    # --------------------------------------------------------------- engine calls

    def api(self) -> docker.APIClient:
        """The SDK client, made on first use (its version check is the first call)."""
        client = self._client
        if client is not None:
            return client
        if self.endpoint_problem is not None:
            raise BadResource(self.endpoint_problem)
        with self._lock:
            if self._client is None:
                try:
                    self._client = CountingClient(
                        self.calls, self._calls_lock, base_url=self.url,
                        version=self.api_version, timeout=self.timeout,
                        tls=urlsplit(self.url).scheme == "https",
                        max_pool_size=max(10, self.max_parallel * 2))
                except docker_errors.DockerException as exc:
                    raise self._unreachable(exc, "connect") from exc
            return self._client

    def _unreachable(self, exc: BaseException, what: str) -> CloudUnavailable:
        reason = scrub(str(exc))
        reason = reason.removeprefix("Error while fetching server API version: ")
        return CloudUnavailable(f"the Docker engine at {self.url} is unreachable ({what}): "
                                f"{reason}")

    def call(self, what: str, fn: Callable[..., Any], *args: Any,
             passthrough: Sequence[int | None] = (), **kwargs: Any) -> Any:
        """One engine call with its errors translated; statuses in ``passthrough`` are
        raised as the SDK's own errors for the caller to handle."""
        try:
            return fn(*args, **kwargs)
        except docker_errors.APIError as exc:
            if exc.status_code in passthrough:
                raise
            raise self._translate(exc, what) from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise self._unreachable(exc, what) from exc
        except docker_errors.DockerException as exc:
            raise CloudError(f"the Docker engine at {self.url} failed to {what}: "
                             f"{scrub(str(exc))}") from exc

    def _translate(self, exc: docker_errors.APIError, what: str) -> OccoError:
        return translate(exc, what, self.url)

    # --------------------------------------------------------------- planning

    def _plan(self, spec: NodeSpec) -> Plan:
        """Every input check, before any engine call."""
        if self.endpoint_problem is not None:
            raise self.bad_resource(spec, self.endpoint_problem)
        return plan_container(spec, self.bad_resource)

    # ---------------------------------------------------------------- creating

    def _create_node(self, spec: NodeSpec) -> dict[str, Any]:
        plan = self._plan(spec)
        self._prepare_engine(plan)
        return self._create(plan)

    def create_nodes(self, specs: Sequence[NodeSpec]) -> list[dict[str, Any] | OccoError]:
        """Create several: checks first, each image and network once, then up to
        ``max_parallel`` creates at a time."""
        out: list[dict[str, Any] | OccoError | None] = [None] * len(specs)
        plans: list[tuple[int, Plan]] = []
        for i, spec in enumerate(specs):
            try:
                spec = self.check_resource(spec)
                plan = self._plan(spec)
                self._prepare_engine(plan)
                plans.append((i, plan))
            except OccoError as exc:
                out[i] = about_node(exc, spec.node_name, spec.infra_id, spec.instance_id)

        def one(plan: Plan) -> dict[str, Any] | OccoError:
            try:
                return self._create(plan)
            except OccoError as exc:
                spec = plan.spec
                return about_node(exc, spec.node_name, spec.infra_id, spec.instance_id)
        for (i, _), result in zip(plans, self._parallel(one, [p for _, p in plans])):
            out[i] = result
        return out  # type: ignore[return-value]

    def _parallel(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1 or self.max_parallel == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.max_parallel, len(items)),
                                thread_name_prefix="occo-docker") as pool:
            return list(pool.map(fn, items))

    def _prepare_engine(self, plan: Plan) -> None:
        """The image and the network are there (each checked once per handler)."""
        auth = self.auth.auth_data if self.auth is not None else None
        self.images.ensure(plan.image, plan.tag, plan.origin,
                           auth if isinstance(auth, Mapping) else None)
        network = plan.network
        if network is None or network in _SPECIAL_NETWORKS or network in self._networks or \
                network.startswith("container:"):
            return
        api = self.api()
        try:
            self.call(f"inspect network {network}", api.inspect_network, network,
                      passthrough=(404,))
        except docker_errors.NotFound:
            raise self.bad_resource(plan.spec, f"resource.network {network!r}: the Docker "
                                               f"engine at {self.url} has no such network; "
                                               "create it first (docker network create)") \
                from None
        with self._lock:
            self._networks.add(network)

    def _create(self, plan: Plan) -> dict[str, Any]:
        api = self.api()
        host_config = api.create_host_config(network_mode=plan.network, init=self.init)
        try:
            created = self.call(
                "create container", api.create_container, f"{plan.image}:{plan.tag}",
                command=plan.command, name=plan.name, environment=plan.environment,
                labels=plan.labels, host_config=host_config, use_config_proxy=False,
                passthrough=(404, 409))
        except docker_errors.ImageNotFound as exc:
            self.images.forget(f"{plan.image}:{plan.tag}")
            raise ImageNotFound(f"the Docker engine at {self.url} no longer has the image "
                                f"{plan.image}:{plan.tag}: {scrub(str(exc.explanation))}") \
                from exc
        except docker_errors.APIError as exc:
            if exc.status_code == 409:
                return self._adopt(plan)
            raise self._translate(exc, "create container") from exc
        container = str(created["Id"])
        try:
            self.call("start container", api.start, container)
        except OccoError:
            self._remove(container)   # nothing half-created
            raise
        log.info("node %s (%s): container %s (%s) on %s", plan.spec.node_name,
                 plan.spec.instance_id, plan.name, container[:12], self.url)
        return self.make_ref(plan.spec, container, name=plan.name)

    def _adopt(self, plan: Plan) -> dict[str, Any]:
        """The container that holds the instance's name: OCCO's (adopted) or not (refused)."""
        api = self.api()
        try:
            info = self.call("inspect container", api.inspect_container, plan.name,
                             passthrough=(404,))
        except docker_errors.NotFound:   # removed in between: create it again
            return self._create(plan)
        labels = (info.get("Config") or {}).get("Labels") or {}
        if labels.get(TAG_INSTANCE) != plan.spec.instance_id or \
                labels.get(TAG_INFRA) != plan.spec.infra_id:
            image = (info.get("Config") or {}).get("Image")
            raise ResourceConflict(
                f"the Docker engine at {self.url} already has a container named {plan.name} "
                f"({str(info.get('Id'))[:12]}, image {image}) that OCCO did not create for "
                f"this instance (it lacks the label {TAG_INSTANCE}={plan.spec.instance_id}); "
                "it is left alone: remove or rename it to let OCCO create the node")
        container = str(info["Id"])
        if (info.get("State") or {}).get("Status") == "created":
            self.call("start container", api.start, container)
        return self.make_ref(plan.spec, container, name=plan.name)

    # ---------------------------------------------------------------- watching

    def _find(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """OCCO's containers of each ref's instance id, from one list call."""
        wanted = {str(r.get("instance_id")) for r in refs}
        infras = {str(r.get("infra_id")) for r in refs if r.get("infra_id")}
        label = f"{TAG_INFRA}={next(iter(infras))}" if len(infras) == 1 and \
            all(r.get("infra_id") for r in refs) else TAG_INSTANCE
        api = self.api()
        listing = self.call("list containers", api.containers, all=True,
                            filters={"label": [label]})
        found: dict[str, list[dict[str, Any]]] = {}
        for item in listing:
            iid = (item.get("Labels") or {}).get(TAG_INSTANCE)
            if iid in wanted:
                found.setdefault(iid, []).append(item)
        for items in found.values():
            items.sort(key=lambda c: (c.get("State") != "running", -int(c.get("Created", 0))))
        return found

    def _get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeStatus]:
        found = self._find(refs)
        out: dict[str, NodeStatus] = {}
        for ref in refs:
            iid = str(ref["instance_id"])
            items = found.get(iid)
            if not items:
                out[iid] = NodeStatus(ResourceState.MISSING, f"the Docker engine at {self.url} "
                                      "has no container for this instance")
                self._addresses.drop(iid)
                continue
            item = items[0]
            raw = str(item.get("State") or "")
            state = self.map_state(raw)
            if state == ResourceState.FAILED:
                out[iid] = self._failure(item)
            else:
                self._failures.pop(str(item.get("Id")), None)
                out[iid] = NodeStatus(state, raw=raw)
            self._addresses.put(iid, self._addresses_of(item)
                                if state == ResourceState.RUNNING else None)
        return out

    def _watch_states(self, refs: Sequence[Mapping[str, Any]], known: Mapping[str, str],
                      timeout: float) -> dict[str, NodeStatus]:
        """One look at the containers, then the engine's event stream of OCCO's containers
        of these instances until one of them starts, stops, dies or is removed (each such
        event is followed by a look at the containers), or ``timeout`` passes."""
        deadline = time.time() + timeout
        wanted = {str(r.get("instance_id")) for r in refs}
        changed = self.changed(self._get_states(refs), known)
        if changed or timeout <= 0:
            return changed
        infras = {str(r.get("infra_id")) for r in refs if r.get("infra_id")}
        label = f"{TAG_INFRA}={next(iter(infras))}" if len(infras) == 1 else TAG_INSTANCE
        # a second back: an event between the look above and the stream's start is not
        # missed (one seen twice only costs another look)
        stream = self.call("watch events", self.api().events, since=int(time.time()) - 1,
                           until=int(deadline) + 1, decode=True,
                           filters={"type": "container", "label": [label],
                                    "event": list(_WATCHED_EVENTS)})
        try:
            for event in stream:
                labels = ((event.get("Actor") or {}).get("Attributes") or {})
                iid = labels.get(TAG_INSTANCE)
                if iid not in wanted:
                    continue
                starts = event.get("Action") in ("start", "unpause")
                if starts and known.get(iid) == ResourceState.RUNNING.value:
                    continue   # the second before the stream began, seen again
                # the container list can lag the event by a moment: look a few times
                for _ in range(_SETTLE_LOOKS):
                    changed = self.changed(self._get_states(refs), known)
                    if changed or time.time() >= deadline or self.closing.is_set():
                        return changed
                    time.sleep(_SETTLE_GAP)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise self._unreachable(exc, "watch events") from exc
        finally:
            stream.close()
        return {}

    def _failure(self, item: Mapping[str, Any]) -> NodeStatus:
        """Why a container stopped: its exit code and the last lines of its log (asked
        once per container)."""
        container = str(item.get("Id"))
        known = self._failures.get(container)
        if known is not None:
            return known
        raw = str(item.get("State"))
        api = self.api()
        name = (item.get("Names") or [container[:12]])[0].lstrip("/")
        try:
            info = self.call("inspect container", api.inspect_container, container)
            state = info.get("State") or {}
            code = state.get("ExitCode")
            tail = self.call("read the log", api.logs, container, stdout=True, stderr=True,
                             tail=_LOG_LINES)
        except OccoError as exc:
            return NodeStatus(ResourceState.FAILED, f"container {name} is {raw}; its exit code "
                              f"could not be read: {exc}", raw=raw)
        text = tail.decode("utf-8", "replace") if isinstance(tail, bytes) else str(tail)
        text = text[-_LOG_BYTES:].rstrip()
        detail = f"container {name} is {raw}, exit code {code}"
        if state.get("OOMKilled"):
            detail += " (killed: out of memory)"
        if state.get("Error"):
            detail += f" ({state['Error']})"
        detail += f"; last lines of its log:\n{text}" if text else "; its log is empty"
        status = NodeStatus(ResourceState.FAILED, detail, raw=raw,
                            exit_code=int(code) if isinstance(code, int) else None)
        self._failures[container] = status
        return status

    def _addresses_of(self, item: Mapping[str, Any]) -> NodeAddresses | None:
        networks = (item.get("NetworkSettings") or {}).get("Networks") or {}
        found = [str(n.get("IPAddress")) for n in networks.values() if n.get("IPAddress")]
        if found:
            return NodeAddresses(tuple(found), tuple(found))
        if (item.get("HostConfig") or {}).get("NetworkMode") == "host":
            host = self._engine_host()
            return NodeAddresses((host,), (host,), checkable=False)
        return None

    def _engine_host(self) -> str:
        """Where a container on the host's network is: the engine's machine."""
        parts = urlsplit(self.url)
        if parts.scheme == "unix" or parts.hostname in (None, "localhost"):
            return "127.0.0.1"
        return parts.hostname

    def _get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeAddresses]:
        out, ask = self._addresses.split(refs)
        if ask:
            for iid, items in self._find(ask).items():
                if items[0].get("State") == "running":
                    addresses = self._addresses_of(items[0])
                    if addresses is not None:
                        out[iid] = addresses
        return out

    def _list_nodes(self, infra_id: str) -> list[dict[str, Any]]:
        api = self.api()
        listing = self.call("list containers", api.containers, all=True,
                            filters={"label": [f"{TAG_INFRA}={infra_id}"]})
        out = []
        for item in listing:
            labels = dict(item.get("Labels") or {})
            iid = labels.get(TAG_INSTANCE)
            if not iid or item.get("State") in _GONE:
                continue
            out.append({"instance_id": iid, "infra_id": infra_id,
                        "node_name": labels.get(TAG_NODE, ""), "type": self.type_name,
                        "endpoint": self.endpoint,
                        "resource": {"type": self.type_name, "endpoint": self.url},
                        "resource_id": str(item.get("Id")),
                        "name": (item.get("Names") or [""])[0].lstrip("/"), "tags": labels})
        return out

    # ---------------------------------------------------------------- dropping

    def _drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[OccoError | None]:
        found = self._find(refs)
        victims = [(iid, str(item["Id"])) for iid, items in found.items() for item in items]
        errors: dict[str, OccoError] = {}

        def drop(victim: tuple[str, str]) -> tuple[str, OccoError | None]:
            iid, container = victim
            try:
                self._stop(container)
                self._remove(container, quiet=False)
            except OccoError as exc:
                return iid, exc
            return iid, None
        for iid, error in self._parallel(drop, victims):
            if error is not None:
                errors.setdefault(iid, error)
        for iid, container in victims:
            self._addresses.drop(iid)
            self._failures.pop(container, None)
        return [errors.get(str(r.get("instance_id"))) for r in refs]

    def _stop(self, container: str) -> None:
        api = self.api()
        try:
            self.call("stop container", api.stop, container, timeout=self.stop_timeout,
                      passthrough=(304, 404))
        except docker_errors.APIError:
            pass   # not running (304) or gone (404): nothing to stop

    def _remove(self, container: str, *, quiet: bool = True) -> None:
        api = self.api()
        try:
            self.call("remove container", api.remove_container, container, v=True,
                      force=True, passthrough=(404, 409))
        except docker_errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" not in str(exc.explanation):
                if not quiet:
                    raise self._translate(exc, "remove container") from exc
                log.warning("container %s could not be removed: %s", container[:12],
                            scrub(str(exc.explanation)))
        except OccoError as exc:
            if not quiet:
                raise
            log.warning("container %s could not be removed: %s", container[:12], exc)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
