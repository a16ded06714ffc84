"""Errors of occo-api.

    OccoError (occo.util)
    ├── InputError
    │   ├── UnknownInfrastructure   no such infrastructure id (REST 404)
    │   │   ├── NodeNotFound        the infrastructure has no node of that name (REST 404)
    │   │   └── InstanceNotFound    the node has no instance of that id or address (REST 404)
    │   ├── AmbiguousInfrastructure a name or id prefix that names several (REST 400)
    │   ├── UnsupportedBody         a request body of a type the path does not read (REST 415)
    │   └── UsageError              a command line the CLI cannot run (exit 2)
    ├── BuildFailed                 a build could not start or did not finish (exit 1 or 2)
    └── Busy                        a build, destroy or pass of it is running (REST 409)
"""

from __future__ import annotations

from occo.util import InputError, OccoError

__all__ = ["UnknownInfrastructure", "AmbiguousInfrastructure", "NodeNotFound",
           "InstanceNotFound", "UnsupportedBody", "UsageError",
           "BuildFailed", "Busy"]


class UnknownInfrastructure(InputError):
    """The store has no infrastructure of this id."""


class NodeNotFound(UnknownInfrastructure):
    """The infrastructure has no node of this name."""


class InstanceNotFound(UnknownInfrastructure):
    """The node has no live instance of this id or address."""


class AmbiguousInfrastructure(InputError):
    """A name or id prefix that several infrastructures in the store answer to."""


class UnsupportedBody(InputError):
    """A request body of a media type the REST path does not read (a multipart form...)."""


class UsageError(InputError):
    """The command line cannot be carried out as given."""


class BuildFailed(OccoError):
    """The build did not start (``exit_code`` 2: bad input) or did not finish (1)."""

    def __init__(self, message: str, *, exit_code: int = 1, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.exit_code = exit_code


class Busy(OccoError):
    """Someone is building, destroying or maintaining the infrastructure right now; retry
    when they are done."""
