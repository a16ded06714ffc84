"""The errors of occo.servicecomposer.

Every message names the node and the section (and, where known, the file, line and YAML
path) it is about, and passes through :func:`occo.util.scrub` so that no registered
secret can leak through it. The tree::

    OccoError
    └── ServiceComposerError            something the service composer could not do
        ├── RequestError                 (InputError) a malformed resolve or health request
        ├── TemplateError                (InputError) a template that cannot be rendered:
        │   │                            syntax, undefined name, failing expression
        │   ├── TemplateSecurityError    the sandbox refused an operation
        │   └── TemplateLimitError       too slow or too large a render
        ├── ContextError                 (InputError) a contextualisation that does not fit
        ├── ConfigManagementError        (InputError) a config_management section that does
        │   │                            not fit its config manager
        │   └── NotSupportedError        a config manager OCCO does not implement (chef)
        ├── HealthCheckError             (InputError) a health_check value that is wrong
        ├── DependencyNotReadyError      getip() and friends: the node has no ready
        │                                instance (yet); the caller may retry later
        └── HealthCheckUnavailableError  a check that cannot run on this host (no ICMP
                                         socket and no ping binary; no MySQL driver)

Errors that derive from ``InputError`` have CLI exit status 2: the user's input must be
changed. The others have exit status 1.
"""

from __future__ import annotations

from occo.util import InputError, Location, OccoError, scrub

__all__ = [
    "ServiceComposerError", "RequestError", "TemplateError", "TemplateSecurityError",
    "TemplateLimitError", "ContextError", "ConfigManagementError", "NotSupportedError",
    "HealthCheckError", "DependencyNotReadyError", "HealthCheckUnavailableError",
]


class ServiceComposerError(OccoError):
    """Root of the service composer's errors. Messages are scrubbed of secrets."""

    def __init__(self, message: str, *, location: Location | None = None,
                 node: str | None = None, infra_id: str | None = None) -> None:
        super().__init__(scrub(message), location=location, node=node, infra_id=infra_id)


class RequestError(ServiceComposerError, InputError):
    """A resolve or health request that is not of the documented shape."""


class TemplateError(ServiceComposerError, InputError):
    """A template that cannot be rendered (syntax, undefined name, failing expression)."""


class TemplateSecurityError(TemplateError):
    """The sandbox refused an operation (internal attribute, file access, ...)."""


class TemplateLimitError(TemplateError):
    """A render took too long or produced too much."""


class ContextError(ServiceComposerError, InputError):
    """A contextualisation section that its type cannot use."""


class ConfigManagementError(ServiceComposerError, InputError):
    """A config_management section that its config manager cannot use."""


class NotSupportedError(ConfigManagementError):
    """A config manager type that OCCO accepts in files but does not implement."""


class HealthCheckError(ServiceComposerError, InputError):
    """A health_check value that is wrong (a port that is not a number, ...)."""


class DependencyNotReadyError(ServiceComposerError):
    """A template asked for a node that has no ready instance."""


class HealthCheckUnavailableError(ServiceComposerError):
    """A health check that cannot run on this host; the message says what to install."""
