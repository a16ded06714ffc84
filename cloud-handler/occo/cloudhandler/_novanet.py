"""The nova backend's addresses and floating IPs (neutron).

A floating IP OCCO allocates carries the neutron tags ``occo:instance_id=<id>`` and
``occo:infra_id=<id>``: a later poll (or another process after a restart) finds it by
them, so allocating is idempotent, and drop releases exactly the ones OCCO made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from occo.util import TAG_INFRA, TAG_INSTANCE, NodeSpec, OccoError

from .base import NodeAddresses

if TYPE_CHECKING:
    from .nova import NovaCloudHandler

__all__ = ["FloatingIPs", "addresses_of"]

log = logging.getLogger(__name__)


def addresses_of(server: Any) -> NodeAddresses | None:
    """Floating addresses first, then fixed ones; the fixed ones are the private ones."""
    fixed: list[str] = []
    floating: list[str] = []
    for entries in (server.addresses or {}).values():
        for entry in entries:
            addr = entry.get("addr")
            if not addr:
                continue
            if entry.get("OS-EXT-IPS:type") == "floating":
                floating.append(str(addr))
            else:
                fixed.append(str(addr))
    if not fixed and not floating:
        return None
    return NodeAddresses(tuple(floating + fixed), tuple(fixed))


class FloatingIPs:
    """Floating IPs of one handler's servers: allocated once ACTIVE, released at drop."""

    def __init__(self, handler: NovaCloudHandler) -> None:
        self.handler = handler
        self._pools: dict[str, str] = {}

    @staticmethod
    def wanted(resource: Mapping[str, Any]) -> bool:
        """Occopus's rule: the key ``floating_ip`` present (any value), or a pool named."""
        return "floating_ip" in resource or bool(resource.get("floating_ip_pool"))

    def pool_id(self, spec: NodeSpec | None, resource: Mapping[str, Any] | None = None) -> str:
        """The external network to allocate from: the named pool, or the only one."""
        h = self.handler
        res = spec.resource if spec is not None else (resource or {})
        name = str(res.get("floating_ip_pool") or "")
        if name in self._pools:
            return self._pools[name]
        if name:
            net = h.call("find network", "network.find_network", name,
                         ignore_missing=False)
            if net is None:
                message = f"{h.where} has no network {name!r} for floating_ip_pool"
                if spec is None:
                    raise OccoError(message)
                raise h.bad_resource(spec, message)
            found = str(net.id)
        else:
            nets = h.call("list external networks", "network.networks",
                          is_router_external=True)
            if len(nets) != 1:
                names = ", ".join(sorted(str(n.name) for n in nets)) or "none"
                message = (f"{h.where}: floating_ip without floating_ip_pool needs exactly "
                           f"one external network; there are: {names}")
                if spec is None:
                    raise OccoError(message)
                raise h.bad_resource(spec, message)
            found = str(nets[0].id)
        self._pools[name] = found
        return found

    def of_refs(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """The floating IPs OCCO allocated for each ref, by instance id (one list call)."""
        h = self.handler
        wanted = sorted({f"{TAG_INSTANCE}={r['instance_id']}" for r in refs})
        out: dict[str, list[Any]] = {}
        for i in range(0, len(wanted), 40):
            for fip in h.call("list floating ips", "network.ips",
                              any_tags=",".join(wanted[i:i + 40])):
                for item in fip.tags or ():
                    key, _, value = str(item).partition("=")
                    if key == TAG_INSTANCE:
                        out.setdefault(value, []).append(fip)
        return out

    def ensure(self, ref: Mapping[str, Any], server: Any, have: list[Any] | None) -> bool:
        """Whether the server has its floating IP (associated, and shown in nova's
        addresses of the server); allocates or associates it if not."""
        h = self.handler
        fip = (have or [None])[0]
        if fip is not None and fip.port_id:
            shown = addresses_of(server)
            return shown is not None and fip.floating_ip_address in shown.addresses
        ports = h.call("list ports", "network.ports", device_id=str(server.id))
        if not ports:
            return False
        if fip is None:
            pool = self.pool_id(None, ref.get("resource") or {})
            fip = h.call("create floating ip", "network.create_ip",
                         floating_network_id=pool,
                         description=f"occo {ref.get('node_name', '')} {ref['instance_id']}")
            h.call("tag floating ip", "network.set_tags", fip,
                   [f"{TAG_INSTANCE}={ref['instance_id']}",
                    f"{TAG_INFRA}={ref.get('infra_id', '')}"])
            log.info("instance %s: floating IP %s allocated", ref["instance_id"],
                     fip.floating_ip_address)
        h.call("associate floating ip", "network.update_ip", fip,
               port_id=str(ports[0].id))
        return False      # nova shows it once neutron has told it

    def release(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, OccoError]:
        """Delete the floating IPs OCCO allocated for ``refs``; errors by instance id."""
        h = self.handler
        errors: dict[str, OccoError] = {}
        try:
            found = self.of_refs(refs)
        except OccoError as exc:
            return {str(r["instance_id"]): exc for r in refs}
        for iid, fips in found.items():
            for fip in fips:
                try:
                    h.call("delete floating ip", "network.delete_ip", fip,
                           ignore_missing=True)
                except OccoError as exc:
                    errors[iid] = exc
        return errors
