"""What a cloud handler is asked to create: one node instance, fully resolved.

The service composer produces it (templates rendered, contextualisation turned into
user-data or container settings), the infrastructure processor passes it on, the cloud
handler consumes it. It crosses process boundaries as JSON (``to_dict``/``from_dict``).
Credentials are not part of it: the cloud handler looks them up itself, so they never
travel in messages or land in the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NodeSpec", "TAG_INFRA", "TAG_NODE", "TAG_INSTANCE", "endpoint_key"]

TAG_INFRA = "occo:infra_id"
TAG_NODE = "occo:node"
TAG_INSTANCE = "occo:instance_id"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    """One node instance to create.

    ``context`` is the contextualisation's output, one of::

        {"type": "cloudinit", "user_data": "#cloud-config\\n..."}
        {"type": "docker", "env": ["K=V", ...], "command": "..." or [...] or None}
        {"type": "basic", "attributes": {...}}

    or ``None`` when the implementation has no contextualisation.
    """

    instance_id: str
    infra_id: str
    node_name: str
    node_type: str
    resource: Mapping[str, Any]
    context: Mapping[str, Any] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def resource_type(self) -> str:
        return str(self.resource.get("type", ""))

    def occo_tags(self) -> dict[str, str]:
        """OCCO's own tags, written on every resource it creates, plus the user's."""
        return {**{str(k): str(v) for k, v in self.tags.items()},
                TAG_INFRA: self.infra_id, TAG_NODE: self.node_name,
                TAG_INSTANCE: self.instance_id}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form. Shallow: the mappings are shared with this spec, not copied."""
        return {"instance_id": self.instance_id, "infra_id": self.infra_id,
                "node_name": self.node_name, "node_type": self.node_type,
                "resource": self.resource, "context": self.context, "tags": self.tags}

    def to_json(self) -> dict[str, Any]:
        """The JSON form, as the transports encode it (:meth:`to_dict`)."""
        return self.to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeSpec:
        return cls(**{k: data[k] for k in ("instance_id", "infra_id", "node_name",
                                           "node_type", "resource") },
                   context=data.get("context"), tags=dict(data.get("tags") or {}))


_ENDPOINT_KEYS = ("endpoint", "regionname", "region_name", "name")


def endpoint_key(resource: Mapping[str, Any]) -> str:
    """The cloud endpoint a resource section talks to, for per-endpoint limits.

    Two resources share a key when they share type, endpoint, region and label, which is
    what a cloud's own API rate limits are counted by.
    """
    parts = [str(resource.get("type", ""))]
    parts += [str(resource[k]) for k in _ENDPOINT_KEYS if resource.get(k)]
    return "|".join(parts)
