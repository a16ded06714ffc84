"""occo.servicecomposer: sandboxed templates, contextualisation, config management, health.

Turns a node instance's chosen implementation into what the cloud needs (an
:class:`occo.util.NodeSpec`: the rendered resource section and the contextualisation as
cloud-init user-data or container settings), runs config management plugins
(``occo.configmanager``) and checks the health of started nodes (``occo.healthcheck``).
See docs/servicecomposer.rst.
"""

from ._sandbox import RenderLimits
from .composer import ServiceComposer
from .configmanager import (
                            CONFIG_MANAGER_GROUP,
                            ChefConfigManager,
                            ConfigManager,
                            NoConfigManager,
                            PuppetSoloConfigManager,
)
from .contextualisation import CONTEXT_TYPES
from .endpoint import ComposerEndpoint
from .errors import (
                            ConfigManagementError,
                            ContextError,
                            DependencyNotReadyError,
                            HealthCheckError,
                            HealthCheckUnavailableError,
                            NotSupportedError,
                            RequestError,
                            ServiceComposerError,
                            TemplateError,
                            TemplateLimitError,
                            TemplateSecurityError,
)
from .health import (
                            HEALTH_CHECK_GROUP,
                            CheckResult,
                            CheckStatus,
                            HealthCheck,
                            HealthChecker,
                            HealthConfig,
                            HealthPlan,
                            HealthReport,
                            PlannedCheck,
                            ProbeFailed,
)
from .lookup import MemoryLookup, NodeLookup, instance_record
from .request import InstanceRequest
from .storelookup import StoreLookup
from .templates import TemplateRenderer, Where
from .version import __version__

__all__ = [
    "__version__",
    "ServiceComposer", "InstanceRequest", "RenderLimits", "TemplateRenderer", "Where",
    "NodeLookup", "MemoryLookup", "instance_record",
    "CONTEXT_TYPES",
    "CONFIG_MANAGER_GROUP", "ConfigManager", "NoConfigManager", "PuppetSoloConfigManager",
    "ChefConfigManager",
    "HEALTH_CHECK_GROUP", "HealthCheck", "HealthChecker", "HealthConfig", "HealthPlan",
    "HealthReport", "PlannedCheck", "CheckResult", "CheckStatus", "ProbeFailed",
    "ServiceComposerError", "RequestError", "TemplateError", "TemplateSecurityError",
    "TemplateLimitError", "ContextError", "ConfigManagementError", "NotSupportedError",
    "HealthCheckError", "DependencyNotReadyError", "HealthCheckUnavailableError",
    "ComposerEndpoint", "StoreLookup",
]
