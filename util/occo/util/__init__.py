"""occo.util: the error root and the helpers every OCCO package shares.

Safe YAML loading with the include tags, plugin lookup by entry point, logging with
secret redaction. Packages import the names below from ``occo.util`` directly.
"""

from .cloudlimits import LIMIT_KEYS, LIMIT_SETTINGS, CloudLimits, check_limits, configured_limits
from .compiled import CompiledDescription, CompiledEdge, CompiledMapping, CompiledNode
from .credentials import (
                          CredentialEntry,
                          Credentials,
                          credentials_from_text,
                          load_credentials,
                          parse_credentials,
)
from .errors import (
                          EXIT_BAD_INPUT,
                          EXIT_FAILED,
                          EXIT_INTERRUPTED,
                          CallTimeoutError,
                          ConfigError,
                          ForbiddenTagError,
                          IncludeError,
                          InputError,
                          InputErrors,
                          LimitExceededError,
                          Location,
                          OccoError,
                          PluginNotFoundError,
                          TransportError,
                          YAMLSyntaxError,
)
from .gcpause import collection_paused
from .ids import new_id
from .instance_request import (
                          RequestBuilder,
                          scaling_secret,
                          synch_attribute_names,
                          waits_on_attributes,
)
from .instructions import (
                          CreateInfrastructure,
                          CreateNode,
                          DropInfrastructure,
                          DropNode,
                          Instruction,
                          RunScope,
                          instruction_from_dict,
)
from .located import LocatedDict, LocatedList, join_path, location_of
from .logs import RedactionFilter, setup_logging
from .nodespec import TAG_INFRA, TAG_INSTANCE, TAG_NODE, NodeSpec, endpoint_key
from .plugins import (
                          CLOUD_HANDLER_GROUP,
                          CONFIG_MANAGER_GROUP,
                          HEALTH_CHECK_GROUP,
                          PLUGIN_GROUPS,
                          RESOURCE_SCHEMA_GROUP,
                          find_entry_point,
                          load_plugin,
                          plugin_names,
)
from .ratelimit import Backoff, TokenBucket
from .schema import Field, Schema, describe_value, is_template
from .secrets import REDACTED, forget_secrets, is_secret_key, redact, register_secret, scrub
from .status import CANCEL_REQUESTED, InfraStatus
from .suggest import closest, suggestion
from .template_names import CONFIG_MANAGER_NAMES, HEALTH_CHECK_NAMES, NODE_FUNCTIONS, TEMPLATE_NAMES
from .version import __version__
from .yamlload import YamlLimits, load_yaml_file, load_yaml_text

__all__ = [
    "__version__",
    "CloudLimits", "LIMIT_KEYS", "check_limits",
    "CredentialEntry", "Credentials", "credentials_from_text", "load_credentials",
    "parse_credentials",
    "CallTimeoutError", "ConfigError", "ForbiddenTagError", "IncludeError", "InputError",
    "InputErrors", "LimitExceededError", "Location", "OccoError", "PluginNotFoundError",
    "TransportError", "YAMLSyntaxError",
    "LocatedDict", "LocatedList", "join_path", "location_of",
    "collection_paused", "new_id", "NodeSpec", "TAG_INFRA", "TAG_INSTANCE", "TAG_NODE",
    "Field", "Schema", "describe_value", "is_template",
    "RedactionFilter", "setup_logging",
    "find_entry_point", "load_plugin", "plugin_names", "CLOUD_HANDLER_GROUP",
    "CONFIG_MANAGER_GROUP", "HEALTH_CHECK_GROUP", "PLUGIN_GROUPS", "RESOURCE_SCHEMA_GROUP",
    "forget_secrets", "redact", "register_secret", "scrub",
    "YamlLimits", "load_yaml_file", "load_yaml_text",
    "LIMIT_SETTINGS", "configured_limits", "EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED",
    "RequestBuilder", "scaling_secret", "synch_attribute_names", "waits_on_attributes",
    "CreateInfrastructure", "CreateNode", "DropInfrastructure", "DropNode", "Instruction",
    "instruction_from_dict", "RunScope", "endpoint_key", "Backoff", "TokenBucket", "REDACTED",
    "is_secret_key",
    "closest", "suggestion", "CONFIG_MANAGER_NAMES", "HEALTH_CHECK_NAMES", "NODE_FUNCTIONS",
    "TEMPLATE_NAMES", "CANCEL_REQUESTED", "InfraStatus",
    "CompiledDescription", "CompiledEdge", "CompiledMapping", "CompiledNode",
]
