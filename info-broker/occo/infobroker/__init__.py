"""occo.infobroker: the state store (memory, SQLite, Redis), the query router and the event log."""

from .version import __version__

__all__ = ["__version__"]
