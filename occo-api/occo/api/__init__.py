"""occo.api: the Python API (``Occo``), the ``occo`` command, the Occopus-compatible commands
and the REST service; the only package that wires OCCO's parts together."""

from .cli import main
from .config import Config, load_config
from .core import Occo
from .errors import (
                     BuildFailed,
                     Busy,
                     InstanceNotFound,
                     NodeNotFound,
                     UnknownInfrastructure,
                     UsageError,
)
from .system import System
from .version import __version__

__all__ = ["__version__", "Occo", "Config", "load_config", "System", "BuildFailed",
           "UnknownInfrastructure", "NodeNotFound", "InstanceNotFound", "UsageError", "Busy",
           "main"]
