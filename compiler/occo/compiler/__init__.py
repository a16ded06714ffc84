"""occo.compiler: loads, validates and compiles Occopus-compatible infrastructure
descriptions and node definitions into an immutable :class:`StaticDescription`.

Typical use::

    from occo.compiler import compile_infrastructure
    desc = compile_infrastructure("infra.yaml")        # node definitions found beside it
    print(desc.summary())                               # for `occo validate`
    store.put(desc.to_dict())                           # plain JSON for the store

See docs/compiler.rst for the formats accepted, the checks made and the dict form.
"""

from __future__ import annotations

from .choose import ChoiceStrategy, ImplementationChooser, matches_filter
from .compiler import (
                       DEFINITION_FILES,
                       TemplateDependencies,
                       compile_infrastructure,
                       load_node_definitions,
)
from .errors import (
                       CompileError,
                       CompileErrors,
                       DependencyCycleError,
                       InstanceLimitError,
                       InvalidModelError,
                       NoMatchingImplementationError,
                       PluginLoadError,
                       TemplateReferenceError,
                       UnknownNodeTypeError,
)
from .frozen import FrozenDict, freeze, thaw
from .limits import DEFAULT_INSTANCE_LIMITS, InstanceLimits
from .model import (
                       FORMAT_VERSION,
                       AttributeMapping,
                       Edge,
                       Implementation,
                       Node,
                       NodeDefinition,
                       Scaling,
                       StaticDescription,
                       Update,
                       summary_line,
)
from .registry import (
                       CONFIG_MANAGER_GROUP,
                       HEALTH_CHECK_GROUP,
                       RESOURCE_SCHEMA_GROUP,
                       Registry,
                       load_resource_schemas,
)
from .version import __version__

__all__ = [
    "__version__",
    "compile_infrastructure", "load_node_definitions", "TemplateDependencies",
    "DEFINITION_FILES",
    "InstanceLimits", "InstanceLimitError", "DEFAULT_INSTANCE_LIMITS",
    "StaticDescription", "Node", "Edge", "AttributeMapping", "Scaling", "Update",
    "Implementation",
    "NodeDefinition", "FORMAT_VERSION", "summary_line",
    "ChoiceStrategy", "ImplementationChooser", "matches_filter",
    "FrozenDict", "freeze", "thaw",
    "Registry", "load_resource_schemas", "RESOURCE_SCHEMA_GROUP", "CONFIG_MANAGER_GROUP",
    "HEALTH_CHECK_GROUP",
    "CompileError", "CompileErrors", "UnknownNodeTypeError", "DependencyCycleError",
    "NoMatchingImplementationError", "TemplateReferenceError", "PluginLoadError",
    "InvalidModelError",
]
