"""occo.demo: runnable example infrastructures on the local backend (never released)."""

from .version import __version__

__all__ = ["__version__"]
