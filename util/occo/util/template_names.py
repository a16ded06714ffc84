"""The names a template may use (FORMATS.md section 4), defined once.

The service composer gives exactly these to the templates it renders, and the compiler
refuses, at ``occo validate``, a template that uses any other name (unless it tests it
with ``is defined`` or gives it a ``default``), so a mistake is found before a build and
not in the middle of one. Jinja2's own globals (``range``, ``dict``, ``namespace``...)
are allowed besides these.
"""

from __future__ import annotations

__all__ = ["INSTANCE_NAMES", "NODE_FUNCTIONS", "FUNCTIONS", "HEALTH_CHECK_NAMES",
           "CONFIG_MANAGER_NAMES", "TEMPLATE_NAMES"]

#: About this instance and its node (``occo.servicecomposer.InstanceRequest.names``).
INSTANCE_NAMES = frozenset({
    "node_id", "instance_id", "infra_id", "infra_name", "user_id", "name", "type",
    "variables", "scaling", "attributes", "mappings",
    "scaling_secret",  # authorises only this infrastructure's REST scale paths
    "resource", "contextualisation", "config_management", "health_check"})
#: Functions that ask about another node: it must be a (direct or indirect) dependency.
NODE_FUNCTIONS = frozenset({"getip", "getprivip", "getipall", "find_node_id"})
#: Every function.
FUNCTIONS = NODE_FUNCTIONS | {"cut"}
#: Only in ``health_check`` sections: the address of the instance being checked.
HEALTH_CHECK_NAMES = frozenset({"ip"})
#: Everything any section may use, but the health-check-only names.
TEMPLATE_NAMES = INSTANCE_NAMES | FUNCTIONS
#: Names a config manager adds for the contextualisation of its nodes, by its type.
CONFIG_MANAGER_NAMES: dict[str, frozenset[str]] = {"puppet_solo": frozenset({"puppet"})}
