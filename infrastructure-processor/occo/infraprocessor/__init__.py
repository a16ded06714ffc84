"""occo.infraprocessor: executes build and drop instructions with a dependency-driven
scheduler, bounded per cloud endpoint, intent first, rolled back on failure."""

from .config import ProcessingConfig
from .errors import InfrastructureBusy, ProcessorError
from .processor import Processor
from .version import __version__

__all__ = ["__version__", "Processor", "ProcessingConfig", "ProcessorError",
           "InfrastructureBusy"]
