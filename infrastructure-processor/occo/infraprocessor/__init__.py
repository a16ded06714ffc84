"""occo.infraprocessor: executes build and drop instructions with a dependency-driven scheduler."""

from .version import __version__

__all__ = ["__version__"]
