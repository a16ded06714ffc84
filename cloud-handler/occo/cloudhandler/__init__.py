"""occo.cloudhandler: the cloud handler contract and its backends (dummy, local, ec2, docker)."""

from .version import __version__

__all__ = ["__version__"]
