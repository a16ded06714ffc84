"""The root of every error OCCO raises, and the errors shared by all packages.

Every package has its own ``errors.py`` whose classes derive from the ones here, so a
caller can catch :class:`OccoError` and know it came from OCCO. The tree::

    OccoError                      exit 1: something failed
    ├── InputError                 exit 2: the user's input is wrong (file, line, path)
    │   ├── InputErrors            several input errors reported together
    │   ├── YAMLSyntaxError        the text is not YAML
    │   ├── ForbiddenTagError      a tag other than !yaml_import / !text_import
    │   ├── IncludeError           an include that is missing, escapes its tree, loops
    │   ├── LimitExceededError     a document too large, too deep, or an alias bomb
    │   ├── ConfigError            a bad configuration value
    │   └── PluginNotFoundError    no plugin of that name in an entry point group
    └── TransportError             an endpoint could not be reached
        └── CallTimeoutError       an endpoint did not answer in time

Errors carry structured fields (``location``, ``node``, ``infra_id``) so that the CLI,
the REST API and the logs can present them without parsing messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Location",
    "OccoError",
    "InputError",
    "InputErrors",
    "YAMLSyntaxError",
    "ForbiddenTagError",
    "IncludeError",
    "LimitExceededError",
    "ConfigError",
    "PluginNotFoundError",
    "TransportError",
    "CallTimeoutError",
    "EXIT_FAILED",
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
]

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value came from: file, 1-based line and column, and its YAML path."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        if self.path:
            parts.append(self.path)
        return ": ".join(parts)

    def with_path(self, path: str) -> Location:
        return Location(self.file, self.line, self.column, path)


class OccoError(Exception):
    """Root of OCCO's errors. ``str()`` gives ``file:line:col: path: message``."""

    exit_code: int = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        node: str | None = None,
        infra_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.node = node
        self.infra_id = infra_id

    def __str__(self) -> str:
        where = str(self.location) if self.location else ""
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict:
        """A JSON-able form for ``--json`` output, events and the REST API."""
        out: dict = {"error": type(self).__name__, "message": self.message}
        if self.location:
            loc = self.location
            fields = (("file", loc.file), ("line", loc.line), ("column", loc.column),
                      ("path", loc.path))
            out.update({k: v for k, v in fields if v is not None})
        if self.node:
            out["node"] = self.node
        if self.infra_id:
            out["infra_id"] = self.infra_id
        return out


class InputError(OccoError):
    """The user's input is wrong; nothing was created. CLI exit status 2."""

    exit_code = EXIT_BAD_INPUT


class InputErrors(InputError):
    """Several input errors found in one pass, reported together."""

    def __init__(self, errors: Iterable[InputError], *, truncated: int = 0) -> None:
        self.errors = list(errors)
        self.truncated = truncated
        count = len(self.errors) + truncated
        head = f"{count} error{'s' if count != 1 else ''}"
        super().__init__(head, location=None)

    def __str__(self) -> str:
        lines = [f"{self.message}:"] + [f"  {err}" for err in self.errors]
        if self.truncated:
            lines.append(f"  ... and {self.truncated} more")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": self.message,
                "errors": [err.to_dict() for err in self.errors], "truncated": self.truncated}


class YAMLSyntaxError(InputError):
    """The text could not be parsed as YAML."""


class ForbiddenTagError(InputError):
    """A YAML tag that OCCO does not accept (only the include tags are)."""


class IncludeError(InputError):
    """An include tag names a file that is missing, outside the tree, or loops."""


class LimitExceededError(InputError):
    """A document exceeds a size, depth or alias-expansion limit."""


class ConfigError(InputError):
    """A configuration value is missing or wrong."""


class PluginNotFoundError(InputError):
    """No plugin of this name is registered in the entry point group."""

    def __init__(self, group: str, name: str, available: Iterable[str], *,
                 location: Location | None = None) -> None:
        self.group = group
        self.name = name
        self.available = sorted(available)
        known = ", ".join(self.available) or "none installed"
        super().__init__(f"no {group} plugin named {name!r}; available: {known}",
                         location=location)


class TransportError(OccoError):
    """An endpoint could not be reached or failed to answer."""


class CallTimeoutError(TransportError):
    """An endpoint did not answer within the call's timeout."""
