"""occo.compiler: loads, validates and compiles Occopus-compatible infrastructure descriptions and node definitions."""

from .version import __version__

__all__ = ["__version__"]
