"""occo.util: the error root and the helpers every OCCO package shares.

Safe YAML loading with the include tags, plugin lookup by entry point, logging with
secret redaction. Packages import the names below from ``occo.util`` directly.
"""

from .cloudlimits import LIMIT_KEYS, CloudLimits, check_limits
from .credentials import (
                          CredentialEntry,
                          Credentials,
                          credentials_from_text,
                          load_credentials,
                          parse_credentials,
)
from .errors import (
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
from .located import LocatedDict, LocatedList, join_path, location_of
from .logs import RedactionFilter, setup_logging
from .nodespec import TAG_INFRA, TAG_INSTANCE, TAG_NODE, NodeSpec
from .plugins import find_entry_point, load_plugin, plugin_names
from .schema import Field, Schema, describe_value, is_template
from .secrets import forget_secrets, redact, register_secret, scrub
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
    "find_entry_point", "load_plugin", "plugin_names",
    "forget_secrets", "redact", "register_secret", "scrub",
    "YamlLimits", "load_yaml_file", "load_yaml_text",
]
