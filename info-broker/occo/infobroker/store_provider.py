"""The provider of the store-backed InfoRouter keys.

Answers are plain JSON-able values, ready for the REST API and ``occo status``, and they
are redacted (occo.util.redact): descriptions and implementations come back with secret
values as ``***``. Code that needs the secret values themselves reads the store.

Keys (Occopus names where Occopus had them):

=================================  ===========================  ============================
key                                arguments                    answer
=================================  ===========================  ============================
``infrastructure.list``            -                            [summary] (no description)
``infrastructure.record``          infra_id                     summary (no description)
``infrastructure.static_description``  infra_id                 the compiled description
``infrastructure.name``            infra_id                     str
``infrastructure.status``          infra_id                     str (building, ready, ...)
``infrastructure.state``           infra_id                     {node: {instance_id: state}}
``infrastructure.node_instances``  infra_id, node_name=None     {node: {instance_id: record}}
``infrastructure.scaling_targets`` infra_id                     {node: count}
``infrastructure.events``          infra_id, after=0, limit     [event]
``node.definition``                node_type                    [implementation]
``node.instances``                 infra_id, node_name          [record], oldest first
``node.instance``                  instance_id                  record
``node.state``                     instance_id                  str
``node.address``                   instance_id                  str or None
``node.addresses``                 instance_id                  {addresses, private_addresses}
``node.find``                      infra_id, node_name, state   [record]
=================================  ===========================  ============================
"""

from __future__ import annotations

from typing import Any

from occo.util import redact

from .model import InfraRecord, InstanceRecord
from .router import InfoProvider, provides
from .store import Store

__all__ = ["StoreProvider"]


def _summary(rec: InfraRecord) -> dict[str, Any]:
    out = rec.to_dict()
    del out["description"]
    return out


def _instance(rec: InstanceRecord) -> dict[str, Any]:
    return redact(rec.to_dict())


class StoreProvider(InfoProvider):
    """Answers the keys that the store alone can answer."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---------------------------------------------------------------- infrastructures

    @provides("infrastructure.list")
    def infrastructures(self) -> list[dict[str, Any]]:
        """Every infrastructure (without descriptions), oldest first."""
        return [_summary(rec) for rec in self.store.list_infrastructures()]

    @provides("infrastructure.record")
    def infrastructure(self, infra_id: str) -> dict[str, Any]:
        """The infrastructure's record without its description."""
        return _summary(self.store.get_infrastructure(infra_id))

    @provides("infrastructure.static_description")
    def static_description(self, infra_id: str) -> dict[str, Any]:
        """The compiled description, secret values redacted."""
        return redact(self.store.get_infrastructure(infra_id).description)

    @provides("infrastructure.name")
    def name(self, infra_id: str) -> str:
        """The infrastructure's name."""
        return self.store.get_infrastructure(infra_id).name

    @provides("infrastructure.status")
    def status(self, infra_id: str) -> str:
        """The infrastructure's status (building, ready, failed, destroying, ...)."""
        return self.store.get_infrastructure(infra_id).status

    @provides("infrastructure.state")
    def state(self, infra_id: str) -> dict[str, dict[str, str]]:
        """{node: {instance_id: state}} of every instance."""
        out: dict[str, dict[str, str]] = {}
        for rec in self.store.list_instances(infra_id):
            out.setdefault(rec.node_name, {})[rec.instance_id] = str(rec.state)
        return out

    @provides("infrastructure.node_instances")
    def node_instances(self, infra_id: str, node_name: str | None = None
                       ) -> dict[str, dict[str, dict[str, Any]]]:
        """{node: {instance_id: instance record}}, of one node if given."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for rec in self.store.list_instances(infra_id, node_name):
            out.setdefault(rec.node_name, {})[rec.instance_id] = _instance(rec)
        return out

    @provides("infrastructure.scaling_targets")
    def scaling_targets(self, infra_id: str) -> dict[str, int]:
        """{node: wanted count} of the nodes that have a scaling target."""
        return self.store.get_scaling_targets(infra_id)

    @provides("infrastructure.events")
    def events(self, infra_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """The event log from position ``after`` on (exclusive), oldest first."""
        return [e.to_dict() for e in self.store.read_events(infra_id, after, limit)]

    # ---------------------------------------------------------------- nodes

    @provides("node.definition")
    def definition(self, node_type: str) -> list[dict[str, Any]]:
        """The implementations of a node type, secret values redacted."""
        return redact(self.store.get_node_definition(node_type))

    @provides("node.instances")
    def instances(self, infra_id: str, node_name: str) -> list[dict[str, Any]]:
        """The instances of one node, oldest first."""
        return [_instance(rec) for rec in self.store.list_instances(infra_id, node_name)]

    @provides("node.instance")
    def instance(self, instance_id: str) -> dict[str, Any]:
        """One instance's record."""
        return _instance(self.store.get_instance(instance_id))

    @provides("node.state")
    def node_state(self, instance_id: str) -> str:
        """The instance's state as recorded (pending, starting, ready, ...)."""
        return str(self.store.get_instance(instance_id).state)

    @provides("node.address")
    def address(self, instance_id: str) -> str | None:
        """The instance's first public address, else its first private one, else None."""
        return self.store.get_instance(instance_id).address

    @provides("node.addresses")
    def addresses(self, instance_id: str) -> dict[str, list[str]]:
        """{addresses, private_addresses} of the instance."""
        rec = self.store.get_instance(instance_id)
        return {"addresses": list(rec.addresses),
                "private_addresses": list(rec.private_addresses)}

    @provides("node.find")
    def find(self, infra_id: str, node_name: str | None = None, state: str | None = None
             ) -> list[dict[str, Any]]:
        """The instances of an infrastructure, of one node and/or in one state."""
        return [_instance(rec) for rec in self.store.list_instances(infra_id, node_name)
                if state is None or rec.state == state]
