"""occo.api: the occo command, the Occopus-compatible commands, the REST service and the Python API."""

from .version import __version__

__all__ = ["__version__"]
