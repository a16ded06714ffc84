"""The service composer: from a resolve request to a NodeSpec, and health of started nodes.

One instance's resolution, in order:

1. secrets in the request (values under secret-named keys) are registered, so no log
   line or error can show them;
2. ``resource`` is rendered; then ``config_management`` (seeing the rendered resource),
   which its config manager checks and which may contribute template names (``puppet``);
3. ``contextualisation`` is rendered with all of these into the NodeSpec's ``context``.

Templates see the names of FORMATS.md section 4. Each section is one render for the
limits (time, size). ``health_check`` is rendered per health round, with ``ip`` set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from occo.util import NodeSpec

from ._names import cut, node_functions, traced
from ._sandbox import RenderLimits
from .configmanager import ConfigManager, ConfigManagers
from .contextualisation import Contextualiser
from .errors import RequestError
from .health import HealthChecker, HealthConfig, HealthPlan, HealthReport
from .health.synch_attrs import attribute_values, synch_attribute_names
from .lookup import NodeLookup
from .request import InstanceRequest, register_secrets_in
from .templates import TemplateRenderer, Where

__all__ = ["ServiceComposer"]

log = logging.getLogger(__name__)


class ServiceComposer:
    """Resolves node instances and checks their health. Thread-safe; one per process.

    ``lookup`` answers ``getip`` and friends; ``config_managers`` and ``health_checks``
    default to the entry point groups ``occo.configmanager`` and ``occo.healthcheck``.
    """

    def __init__(self, lookup: NodeLookup, *, limits: RenderLimits | None = None,
                 config_managers: Mapping[str, ConfigManager] | None = None,
                 health: HealthConfig | None = None,
                 health_checker: HealthChecker | None = None) -> None:
        self.lookup = lookup
        self.renderer = TemplateRenderer(limits)
        self.contextualiser = Contextualiser(self.renderer)
        self.config_managers = ConfigManagers(config_managers)
        self.health = health_checker or HealthChecker(health)

    def close(self) -> None:
        self.health.close()

    def __enter__(self) -> ServiceComposer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- resolution --------------------------------------------------------------------

    def _names(self, req: InstanceRequest, used: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        names = req.names()
        functions = node_functions(self.lookup, infra_id=req.infra_id, node=req.node_name,
                                   dependencies=req.dependencies)
        names.update(functions if used is None else traced(functions, used))
        names["cut"] = cut
        return names

    def _where(self, req: InstanceRequest, section: str, container: Any = None) -> Where:
        return Where(req.node_name, req.node_type, req.infra_id, section, container, section)

    def resolve(self, request: Mapping[str, Any] | InstanceRequest) -> NodeSpec:
        """The NodeSpec of one instance: resource rendered, context built, tags taken.

        Raises a located :class:`~occo.servicecomposer.errors.ServiceComposerError`
        (an ``InputError`` for what the user must fix, ``DependencyNotReadyError`` when a
        named node has no ready instance yet).
        """
        return self.resolve_traced(request)[0]

    def resolve_traced(self, request: Mapping[str, Any] | InstanceRequest
                       ) -> tuple[NodeSpec, dict[str, Any]]:
        """:meth:`resolve`, and what its templates read of other nodes:
        ``{"getip('db')": "10.0.0.5", ...}`` (what the instance was built from, so that a
        plan can tell when a dependency's address moved under it)."""
        req = InstanceRequest.from_mapping(request)
        register_secrets_in(req.variables)
        register_secrets_in(req.node_attributes)
        impl = _implementation(request, req)
        register_secrets_in(impl)
        used: dict[str, Any] = {}
        names = self._names(req, used)

        resource = self.renderer.render(req.resource, names, self._where(req, "resource", impl))
        register_secrets_in(resource)
        names["resource"] = resource

        section = req.config_management or {"type": "none"}
        cm_where = self._where(req, "config_management", impl)
        manager = self.config_managers.get(section.get("type", "none"),
                                           cm_where.at(section, "type"))
        rendered_cm = self.renderer.render(section, names, cm_where)
        register_secrets_in(rendered_cm)
        manager.check(rendered_cm, Where(req.node_name, req.node_type, req.infra_id,
                                         "config_management", impl, "config_management"))
        names["config_management"] = rendered_cm
        names.update(manager.template_names(rendered_cm, cm_where))

        context = self.contextualiser.build(
            req.contextualisation, names, req.node_attributes,
            self._where(req, "contextualisation", impl))
        tags = resource.get("tags")
        if tags is not None and not isinstance(tags, Mapping):
            raise RequestError(f"node {req.node_name!r}: resource tags must be a mapping, got "
                               f"{type(tags).__name__}", node=req.node_name,
                               infra_id=req.infra_id,
                               location=self._where(req, "resource.tags").location())
        log.debug("resolved instance %s of node %s (%s)", req.instance_id, req.node_name,
                  context["type"] if context else "no context")
        return NodeSpec(instance_id=req.instance_id, infra_id=req.infra_id,
                        node_name=req.node_name, node_type=req.node_type, resource=resource,
                        context=context,
                        tags={str(k): str(v) for k, v in (tags or {}).items()}), used

    # -- after start -------------------------------------------------------------------

    def config_ready(self, request: Mapping[str, Any] | InstanceRequest, address: str) -> bool:
        """The config manager's post-start step: is the node's configuration done?"""
        req = InstanceRequest.from_mapping(request)
        names = self._names(req)
        section = req.config_management or {"type": "none"}
        where = self._where(req, "config_management")
        manager = self.config_managers.get(section.get("type", "none"), where)
        rendered = self.renderer.render(section, names, where)
        return manager.ready(rendered, instance_id=req.instance_id, address=address)

    def health_plan(self, request: Mapping[str, Any] | InstanceRequest, address: str) -> HealthPlan:
        """The health probes of one started instance at ``address`` (``ip`` in templates)."""
        req = InstanceRequest.from_mapping(request)
        register_secrets_in(req.variables)
        names = self._names(req)
        names["ip"] = address
        impl = _implementation(request, req)
        where = self._where(req, "health_check", impl)
        section = self.renderer.render(req.health_check, names, where) \
            if req.health_check is not None else None
        register_secrets_in(section)
        section = _with_synch_attrs(section, req, names, address)
        return self.health.plan(section, instance_id=req.instance_id, address=address,
                                where=Where(req.node_name, req.node_type, req.infra_id,
                                            "health_check", impl, "health_check"))

    def check_health(self, items: Iterable[tuple[Mapping[str, Any] | InstanceRequest, str]]
                     ) -> list[HealthReport]:
        """One health round over ``(request, address)`` pairs, concurrently."""
        return self.health.run([self.health_plan(req, address) for req, address in items])


def _with_synch_attrs(section: Any, req: InstanceRequest, names: Mapping[str, Any],
                      address: str) -> Any:
    """``section`` with ``synch_attrs`` resolved to ``{name: value or None}``: the
    attributes this node's dependents wait for (synch mappings) and those it lists."""
    listed = section.get("synch_attrs") if isinstance(section, Mapping) else None
    wanted = synch_attribute_names(req.node.get("mappings"), listed)
    if not wanted:
        return section
    context = req.contextualisation if isinstance(req.contextualisation, Mapping) else {}
    instance = {k: names[k] for k in ("node_id", "instance_id", "infra_id", "infra_name",
                                       "name", "type") if names.get(k) is not None}
    out = dict(section) if isinstance(section, Mapping) else {}
    out["synch_attrs"] = attribute_values(wanted, address=address, instance=instance,
                                          attributes=req.node_attributes,
                                          context_attributes=context.get("attributes"))
    return out


def _implementation(raw: Any, req: InstanceRequest) -> Any:
    """The implementation mapping as given (it may carry file locations), for errors."""
    if isinstance(raw, Mapping) and isinstance(raw.get("implementation"), Mapping):
        return raw["implementation"]
    return {"resource": req.resource, "contextualisation": req.contextualisation,
            "config_management": req.config_management, "health_check": req.health_check}
