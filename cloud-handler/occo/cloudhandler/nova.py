"""``nova``: OpenStack servers, through openstacksdk.

- Keystone v3: ``auth_data`` is a password (``username``, ``password``; the project is
  the resource's ``project_id``) or an application credential (``type:
  application_credential``, ``id``, ``secret``). One connection per handler, i.e. per
  (Keystone URL, project, region, credentials entry), reused for every call
  (``_novaconn``).
- Idempotency is OCCO's own (nova has no client token): every server gets the tags
  ``occo:infra_id=<id>``, ``occo:node=<name>``, ``occo:instance_id=<id>`` and the
  user's ``<key>=<value>`` at creation (compute microversion 2.52 or later), and before
  creating, the handler lists the servers tagged with the instance id and adopts what it
  finds (extra copies, from a lost race, are deleted).
- Batches: one server list per poll (``any_tags`` = the refs' infrastructure tags,
  filtered by nova), whatever the number of refs; never a GET per server. Addresses seen
  by a state poll are kept for the next ``get_addresses``.
- Image, flavor and network are looked up (by id or name; a flavor by name first, so a
  flavor *named* ``2`` is that one) before any server is created, and an unknown one is
  named in the error. ``volume_size`` boots from a new volume where the cloud has a
  volume service and is refused where it has none.
- ``floating_ip`` / ``floating_ip_pool``: once the server is ACTIVE, a floating IP is
  allocated from the pool (or the only external network), tagged with the instance id,
  and associated with the server's port; the node counts as pending until then. Drop
  releases the floating IPs OCCO allocated for the instance.

Handler config (``nova:`` in the service config): ``api_timeout`` (30 s),
``connect_retries`` (2), ``interface`` (public), ``region_name``.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openstack.exceptions import NotFoundException

from occo.util import (
    TAG_INFRA,
    TAG_INSTANCE,
    TAG_NODE,
    CloudLimits,
    CredentialEntry,
    NodeSpec,
    OccoError,
)

from . import _novaconn
from ._novanet import FloatingIPs, addresses_of
from .base import (
    AddressCache,
    BatchCreatingHandler,
    Clock,
    NodeAddresses,
    NodeStatus,
    ResourceState,
)
from .errors import CloudError, ImageNotFound, UserDataTooLarge
from .schemas import NOVA

__all__ = ["NovaCloudHandler", "USER_DATA_LIMIT", "tag", "untag"]

log = logging.getLogger(__name__)

USER_DATA_LIMIT = 65535 * 3 // 4   # nova takes 65535 bytes of base64
MIN_MICROVERSION = (2, 52)         # tags at create
_TAGS_PER_LIST = 40                # any_tags values per server list (URL length)
_ADDRESS_TTL = 60.0
_GONE = ("DELETED", "SOFT_DELETED")


def tag(key: str, value: str) -> str:
    """A nova server tag: ``<key>=<value>`` (nova tags are strings)."""
    return f"{key}={value}"


def untag(tags: Iterable[str]) -> dict[str, str]:
    """Server tags back as a mapping (a tag without ``=`` maps to the empty string)."""
    out: dict[str, str] = {}
    for item in tags or ():
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


class NovaCloudHandler(BatchCreatingHandler):
    """One OpenStack cloud (Keystone URL), project and region, one credentials entry."""

    type_name = "nova"
    schema = NOVA
    needs_credentials = True
    # A private cloud's API is one set of processes: a few creates at a time, one list
    # per poll round.
    limits = CloudLimits(max_parallel=8, rate=2.0, burst=8, batch_size=40,
                         poll_interval=2.0, first_poll=1.0)
    ref_keys = ("type", "endpoint", "project_id", "region_name", "image_id", "flavor_name",
                "network_id", "server_name", "floating_ip", "floating_ip_pool", "name")
    STATE_MAP = {
        "BUILD": ResourceState.PENDING, "REBUILD": ResourceState.PENDING,
        "RESIZE": ResourceState.PENDING, "VERIFY_RESIZE": ResourceState.PENDING,
        "REVERT_RESIZE": ResourceState.PENDING, "MIGRATING": ResourceState.PENDING,
        "PASSWORD": ResourceState.PENDING, "REBOOT": ResourceState.PENDING,
        "HARD_REBOOT": ResourceState.PENDING,
        "ACTIVE": ResourceState.RUNNING,
        "SHUTOFF": ResourceState.STOPPED, "STOPPED": ResourceState.STOPPED,
        "PAUSED": ResourceState.STOPPED, "SUSPENDED": ResourceState.STOPPED,
        "SHELVED": ResourceState.STOPPED, "SHELVED_OFFLOADED": ResourceState.STOPPED,
        "RESCUE": ResourceState.STOPPED,
        "ERROR": ResourceState.FAILED,
        "DELETED": ResourceState.TERMINATED, "SOFT_DELETED": ResourceState.TERMINATED,
    }

    def __init__(self, resource: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
                 auth: CredentialEntry | None = None, clock: Clock | None = None) -> None:
        super().__init__(resource, config=config, auth=auth, clock=clock)
        self.url = str(resource.get("endpoint"))
        self.project = str(resource.get("project_id"))
        self.region = resource.get("region_name")
        self.where = f"OpenStack at {self.url} (project {self.project})"
        #: HTTP requests sent, by "METHOD service" ("GET servers"); calls, by operation
        self.requests: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.conn = _novaconn.connect(resource, auth, self.config, self.requests)
        self._lock = threading.Lock()
        self._found: dict[tuple[str, str], str] = {}    # (kind, name) -> id
        self._checked_version = False
        self._addresses = AddressCache(_ADDRESS_TTL)
        self.fips = FloatingIPs(self)

    @classmethod
    def endpoint_key(cls, resource: Mapping[str, Any]) -> str:
        return (f"nova:{resource.get('endpoint')}|{resource.get('project_id')}|"
                f"{resource.get('region_name') or ''}")

    # ------------------------------------------------------------- cloud calls

    def call(self, action: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """One SDK call, ``method`` of the connection (``"compute.servers"``; a generator
        is drained), its errors translated. (The first use of a service proxy already
        authenticates, so it is looked up inside.)"""
        self.calls[action] += 1
        try:
            fn: Any = self.conn
            for part in method.split("."):
                fn = getattr(fn, part)
            result = fn(*args, **kwargs)
            if hasattr(result, "__next__"):
                result = list(result)
            return result
        except OccoError:
            raise
        except Exception as exc:  # openstacksdk and keystoneauth raise many kinds
            if isinstance(exc, NotFoundException) and action.startswith("find "):
                return None
            raise _novaconn.translate(exc, self.where, action, self.auth) from exc

    def _check_version(self) -> None:
        if self._checked_version:
            return
        data = self.call("compute version", "compute.get_endpoint_data")
        top = getattr(data, "max_microversion", None) or (2, 1)
        found = tuple(int(x) for x in str(top).split(".")) if isinstance(top, str) \
            else tuple(top)
        if found[:2] < MIN_MICROVERSION:
            shown = ".".join(map(str, found))
            raise CloudError(f"{self.where}: the compute API goes up to microversion "
                             f"{shown}; OCCO needs 2.52 or later (server tags at create)")
        self._checked_version = True

    def servers(self, key: str, values: Iterable[str]) -> list[Any]:
        """The servers tagged ``key=<one of values>``: one list call per 40 values."""
        wanted = sorted({tag(key, v) for v in values})
        out: list[Any] = []
        for i in range(0, len(wanted), _TAGS_PER_LIST):
            part = ",".join(wanted[i:i + _TAGS_PER_LIST])
            out.extend(self.call("list servers", "compute.servers", details=True,
                                 any_tags=part))
        return out

    def by_instance(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """The live servers of each ref, by OCCO instance id (in one list, normally).

        The list is by infrastructure tag, so it holds the infrastructure's other servers
        too: only the refs' own instance ids are kept."""
        asked = {str(r["instance_id"]) for r in refs}
        infras = {str(r["infra_id"]) for r in refs if r.get("infra_id")}
        loose = {str(r["instance_id"]) for r in refs if not r.get("infra_id")}
        found = self.servers(TAG_INFRA, infras) if infras else []
        if loose:
            found += self.servers(TAG_INSTANCE, loose)
        out: dict[str, list[Any]] = {}
        seen: set[str] = set()
        for server in found:
            iid = untag(server.tags).get(TAG_INSTANCE)
            if iid in asked and server.id not in seen and server.status not in _GONE:
                seen.add(server.id)
                out.setdefault(iid, []).append(server)
        for servers in out.values():
            servers.sort(key=lambda s: (str(s.created_at or ""), s.id))
        return out

    # ---------------------------------------------------------------- lookups

    def _find(self, kind: str, name: str, finder: Any) -> str | None:
        key = (kind, name)
        if key not in self._found:
            item = finder(name)
            if item is None:
                return None
            with self._lock:
                self._found[key] = str(item.id)
        return self._found[key]

    def image_id(self, spec: NodeSpec) -> str:
        name = str(spec.resource["image_id"])
        found = self._find("image", name, lambda n: self.call(
            "find image", "image.find_image", n, ignore_missing=False))
        if found is None:
            raise ImageNotFound(f"{self.where} has no image {name!r} (by id or name)")
        return found

    def flavor_id(self, spec: NodeSpec) -> str:
        name = str(spec.resource["flavor_name"])

        def find(n: str) -> Any:
            flavors = self.call("list flavors", "compute.flavors", details=False)
            return next((f for f in flavors if f.name == n), None) or \
                next((f for f in flavors if f.id == n), None)
        found = self._find("flavor", name, find)
        if found is None:
            raise self.bad_resource(spec, f"{self.where} has no flavor {name!r} "
                                          "(by name or id)")
        return found

    def network_id(self, spec: NodeSpec) -> str | None:
        name = spec.resource.get("network_id")
        if not name:
            return None
        found = self._find("network", str(name), lambda n: self.call(
            "find network", "network.find_network", n, ignore_missing=False))
        if found is None:
            raise self.bad_resource(spec, f"{self.where} has no network {name!r} "
                                          "(by id or name)")
        return found

    def _has_volumes(self) -> bool:
        catalog = self.call("catalog", "session.auth.get_access",
                            self.conn.session).service_catalog
        return any(catalog.get_endpoints(service_type=t).get(t) for t in
                   ("block-storage", "volumev3", "volume"))

    # ---------------------------------------------------------------- creating

    def _user_data(self, spec: NodeSpec) -> str | None:
        context = spec.context or {}
        kind = context.get("type")
        if kind == "cloudinit":
            data = str(context.get("user_data") or "").encode("utf-8")
            if len(data) > USER_DATA_LIMIT:
                raise UserDataTooLarge(
                    f"node {spec.node_name!r}: the cloud-init user-data is {len(data)} "
                    f"bytes; nova accepts at most {USER_DATA_LIMIT} (65535 in base64)",
                    node=spec.node_name, infra_id=spec.infra_id)
            return base64.b64encode(data).decode("ascii")
        if kind == "docker":
            raise self.bad_resource(spec, "contextualisation type 'docker' is for "
                                          "containers; a nova node takes 'cloudinit' or "
                                          "'basic'")
        return None

    def _tags(self, spec: NodeSpec) -> list[str]:
        user = {str(k): str(v) for k, v in spec.tags.items()}
        for key in user:
            if key.startswith("occo:"):
                raise self.bad_resource(spec, f"tag {key!r}: the prefix occo: is reserved")
        tags = [tag(k, v) for k, v in {**user, **spec.occo_tags()}.items()]
        for item in tags:
            if len(item) > 60 or "," in item or "/" in item:
                raise self.bad_resource(spec, f"tag {item!r}: a nova tag has at most 60 "
                                              "characters and no ',' or '/'")
        if len(tags) > 50:
            raise self.bad_resource(spec, f"{len(tags)} tags; nova allows 50 per server")
        return tags

    def _create_batch(self, specs: Sequence[NodeSpec]) -> list[dict[str, Any] | OccoError]:
        out: list[dict[str, Any] | OccoError | None] = []
        prepared: list[dict[str, Any]] = []
        self._check_version()
        for spec in specs:   # every input check first: nothing is created for a bad spec
            try:
                prepared.append(self._params(spec))
                out.append(None)
            except OccoError as exc:
                prepared.append({})
                out.append(exc)
        pending = [i for i, item in enumerate(out) if item is None]
        if pending:
            existing = self.by_instance([{"instance_id": specs[i].instance_id}
                                         for i in pending])
            for i in pending:
                spec = specs[i]
                try:
                    found = existing.get(spec.instance_id)
                    out[i] = self._adopt(spec, found) if found else \
                        self._boot(spec, prepared[i])
                except OccoError as exc:
                    out[i] = exc
        return [item for item in out if item is not None]

    def _params(self, spec: NodeSpec) -> dict[str, Any]:
        """The server's create parameters, every name looked up (errors before any create)."""
        res = spec.resource
        tags = self._tags(spec)
        user_data = self._user_data(spec)
        params: dict[str, Any] = {
            "name": str(res.get("server_name") or
                        f"occo-{spec.node_name}-{spec.instance_id[:8]}"),
            "flavor_id": self.flavor_id(spec), "tags": tags,
            "metadata": dict(spec.occo_tags())}
        image = self.image_id(spec)
        if res.get("volume_size") is not None:
            if not self._has_volumes():
                raise self.bad_resource(spec, f"volume_size: {self.where} has no volume "
                                              "service (cinder) in its catalog")
            params["block_device_mapping_v2"] = [{
                "boot_index": 0, "uuid": image, "source_type": "image",
                "destination_type": "volume", "volume_size": int(res["volume_size"]) or None,
                "delete_on_termination": not res.get("volume_persist", False)}]
        else:
            params["image_id"] = image
        network = self.network_id(spec)
        params["networks"] = [{"uuid": network}] if network else "auto"
        if res.get("key_name"):
            params["key_name"] = str(res["key_name"])
        if res.get("security_groups"):
            params["security_groups"] = [{"name": str(g)} for g in res["security_groups"]]
        if user_data is not None:
            params["user_data"] = user_data
        if self.fips.wanted(res):
            self.fips.pool_id(spec)        # an unknown pool is refused before the create
        return params

    def _adopt(self, spec: NodeSpec, found: list[Any]) -> dict[str, Any]:
        keep, extra = found[0], found[1:]
        for server in extra:
            log.warning("node %s (%s): duplicate server %s deleted", spec.node_name,
                        spec.instance_id, server.id)
            self._delete(server.id)
        return self.make_ref(spec, str(keep.id))

    def _boot(self, spec: NodeSpec, params: dict[str, Any]) -> dict[str, Any]:
        server = self.call("create server", "compute.create_server", **params)
        log.info("node %s (%s): nova server %s at %s", spec.node_name, spec.instance_id,
                 server.id, self.url)
        return self.make_ref(spec, str(server.id))

    # ---------------------------------------------------------------- watching

    def _get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeStatus]:
        current = self.by_instance(refs)
        wants_fip = [r for r in refs if self.fips.wanted(r.get("resource") or {})]
        fips = self.fips.of_refs(wants_fip) if wants_fip else {}
        out: dict[str, NodeStatus] = {}
        for ref in refs:
            iid = str(ref["instance_id"])
            servers = current.get(iid)
            if not servers:
                out[iid] = NodeStatus(ResourceState.MISSING, "nova does not know this server")
                self._addresses.drop(iid)
                continue
            server = servers[0]
            raw = str(server.status)
            state = self.map_state(raw)
            task = getattr(server, "task_state", None)
            detail = None
            if task == "deleting":
                state, raw = ResourceState.STOPPING, f"{raw}/deleting"
            if state == ResourceState.FAILED:
                fault = server.fault or {}
                detail = f"{server.id}: {fault.get('message') or 'ERROR (no fault given)'}"
            if state == ResourceState.RUNNING and ref in wants_fip:
                try:
                    if not self.fips.ensure(ref, server, fips.get(iid)):
                        state, detail = ResourceState.PENDING, "waiting for its floating IP"
                except OccoError as exc:   # an empty pool, a quota: this node's alone
                    pool = (ref.get("resource") or {}).get("floating_ip_pool") or \
                        "the external network"
                    state = ResourceState.FAILED
                    detail = f"{server.id}: no floating IP from {pool!r}: {exc}"
            out[iid] = NodeStatus(state, detail, raw=raw)
            self._addresses.put(iid, addresses_of(server) if state == ResourceState.RUNNING
                                else None)
        return out

    def _get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeAddresses]:
        out, ask = self._addresses.split(refs)
        if ask:
            for iid, servers in self.by_instance(ask).items():
                found = addresses_of(servers[0])
                if found is not None:
                    out[iid] = found
        return out

    def _list_nodes(self, infra_id: str) -> list[dict[str, Any]]:
        out = []
        for server in self.servers(TAG_INFRA, [infra_id]):
            tags = untag(server.tags)
            iid = tags.get(TAG_INSTANCE)
            if not iid or server.status in _GONE or \
                    getattr(server, "task_state", None) == "deleting":
                continue
            out.append({"instance_id": iid, "infra_id": infra_id,
                        "node_name": tags.get(TAG_NODE, ""), "type": self.type_name,
                        "endpoint": self.endpoint,
                        "resource": {"type": self.type_name, "endpoint": self.url,
                                     "project_id": self.project,
                                     **({"region_name": self.region} if self.region else {})},
                        "resource_id": str(server.id), "tags": tags})
        return out

    # ---------------------------------------------------------------- dropping

    def _delete(self, server_id: str) -> None:
        self.call("delete server", "compute.delete_server", server_id,
                  ignore_missing=True)

    def _drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[OccoError | None]:
        found = self.by_instance(refs)
        errors: dict[str, OccoError] = {}
        for iid, servers in found.items():
            for server in servers:
                if getattr(server, "task_state", None) == "deleting":
                    continue          # on its way: dropping again is success
                try:
                    self._delete(str(server.id))
                except OccoError as exc:
                    errors[iid] = exc
        fip_refs = [r for r in refs if self.fips.wanted(r.get("resource") or {})]
        if fip_refs:
            errors.update(self.fips.release(fip_refs))
        for ref in refs:
            self._addresses.drop(str(ref["instance_id"]))
        return [errors.get(str(r["instance_id"])) for r in refs]

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing must not fail a shutdown
            log.debug("closing the connection to %s failed", self.url, exc_info=True)

