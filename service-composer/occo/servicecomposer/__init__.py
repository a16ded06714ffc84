"""occo.servicecomposer: sandboxed templates, contextualisation, config management and health checks."""

from .version import __version__

__all__ = ["__version__"]
