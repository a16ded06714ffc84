"""occo.enactor: maintenance passes: compares desired and actual state, owns scaling and healing."""

from .version import __version__

__all__ = ["__version__"]
