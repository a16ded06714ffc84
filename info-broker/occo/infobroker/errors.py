"""The errors occo.infobroker raises, all under :class:`occo.util.errors.OccoError`.

Callers catch :class:`StoreError` for anything the store reports; the subclasses say what
went wrong so that the right thing can be done (retry a :class:`VersionConflict`, tell the
user about a :class:`StoreCorrupt` file, wait for a :class:`StoreUnavailable` Redis). The
tree::

    OccoError                          (occo.util) exit 1
    ├── StoreError                     the store could not do what was asked
    │   ├── NotFound                   no infrastructure / instance / definition of that id
    │   ├── AlreadyExists              an id that is already taken
    │   ├── VersionConflict            compare-and-set failed: someone else changed it first
    │   ├── InvalidRecord              a record or change the store cannot hold (a bug)
    │   ├── StoreUnavailable           Redis unreachable after bounded reconnects
    │   ├── StoreCorrupt               the state file is damaged or not OCCO's (untouched)
    │   │   ├── SchemaTooNew           written by a newer OCCO (untouched)
    │   │   ├── StoreGone              the state file was removed or replaced under OCCO
    │   │   └── DamagedRecord          one record cannot be read; the rest still can
    │   ├── SecretKeyError             the key that encrypts secret values is missing/wrong
    │   └── LeaseHeld                  another process holds the lease (maintenance, ...)
    ├── InputError                     (occo.util) exit 2: the user's input is wrong
    │   ├── BadStateLocation           a --state value (path or URL) that cannot be used
    │   └── InfoKeyError               an unknown InfoRouter key (the known ones listed)
    │       └── InfoArgumentError      a known key asked with the wrong arguments
    └── ...

Messages never contain a password: URLs are shown with the password replaced by ``***``.
"""

from __future__ import annotations

from collections.abc import Iterable

from occo.util import InputError, Location, OccoError

__all__ = [
    "StoreError", "NotFound", "AlreadyExists", "VersionConflict", "InvalidRecord",
    "StoreUnavailable", "StoreCorrupt", "SchemaTooNew", "StoreGone", "DamagedRecord",
    "SecretKeyError",
    "BadStateLocation", "InfoKeyError", "InfoArgumentError",
]


class StoreError(OccoError):
    """The store could not do what was asked."""


class NotFound(StoreError):
    """No record of that kind with that id. ``kind`` and ``key`` say which."""

    def __init__(self, kind: str, key: str, *, infra_id: str | None = None) -> None:
        super().__init__(f"no {kind} {key!r} in the store", infra_id=infra_id)
        self.kind = kind
        self.key = key


class AlreadyExists(StoreError):
    """A record with this id is already stored; nothing of the batch was written."""

    def __init__(self, kind: str, key: str, *, infra_id: str | None = None) -> None:
        super().__init__(f"{kind} {key!r} already exists in the store; nothing was written",
                         infra_id=infra_id)
        self.kind = kind
        self.key = key


class VersionConflict(StoreError):
    """Compare-and-set failed: the record is at ``actual``, not ``expected``.

    Re-read the record, re-apply the change to the fresh copy and try again.
    """

    def __init__(self, kind: str, key: str, *, expected: int, actual: int,
                 infra_id: str | None = None) -> None:
        super().__init__(f"{kind} {key!r} changed meanwhile: expected version {expected}, "
                         f"the store has version {actual}", infra_id=infra_id)
        self.kind = kind
        self.key = key
        self.expected = expected
        self.actual = actual


class InvalidRecord(StoreError):
    """A record or a change the store cannot hold: an unknown field, a value that is not
    JSON-able, an unknown state. A programming error of the caller, not of the user."""


class StoreUnavailable(StoreError):
    """The store's server could not be reached after a bounded number of reconnects.

    ``url`` is the store's URL with any password replaced by ``***``. An operation that
    raised this was either done completely or not at all.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class StoreCorrupt(StoreError):
    """The state file is damaged or is not an OCCO state file. It was left untouched."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class SchemaTooNew(StoreCorrupt):
    """The state was written by a newer OCCO (schema ``found`` > ``supported``).

    It was left untouched; upgrade OCCO to use it."""

    def __init__(self, message: str, *, path: str, found: int, supported: int) -> None:
        super().__init__(message, path=path)
        self.found = found
        self.supported = supported


class StoreGone(StoreCorrupt):
    """The state file was removed or replaced by another file while a store had it open.
    Nothing more is written (to the removed file or to the new one)."""


class DamagedRecord(StoreCorrupt):
    """One stored record cannot be read: its JSON does not parse, or it lacks a field or
    holds one of the wrong kind. It was left untouched (a write that would have changed it
    was refused), and records other than it can still be read and written.

    ``kind`` is ``infrastructure``, ``instance``, ``implementation``, ``node definition``,
    ``event`` or ``scaling request``; ``key`` its id (an event's position); ``where`` the
    store (a path, or a URL without password)."""

    def __init__(self, kind: str, key: str, *, where: str, reason: str,
                 infra_id: str | None = None) -> None:
        of = f" of infrastructure {infra_id}" if infra_id and infra_id != key else ""
        super().__init__(f"the {kind} record {key}{of} in {where} is damaged ({reason}); it "
                         f"was left untouched. Records other than it can still be used; "
                         f"'occo store check' reports the damaged ones", path=where)
        self.kind = kind
        self.key = key
        self.reason = reason
        self.infra_id = infra_id


class SecretKeyError(StoreError):
    """The key that encrypts secret values cannot be read, created or does not fit."""


class BadStateLocation(InputError):
    """A state location (``--state`` or ``store:`` in the configuration) that cannot be
    used: an unknown scheme, a directory, a malformed Redis URL. Nothing was created."""

    def __init__(self, message: str, *, value: str, location: Location | None = None) -> None:
        super().__init__(message, location=location)
        self.value = value


class InfoKeyError(InputError):
    """An :class:`~occo.infobroker.router.InfoRouter` key no provider declares.

    ``known`` lists every key that is registered, so the message can name them."""

    def __init__(self, key: str, known: Iterable[str], *, message: str | None = None) -> None:
        self.key = key
        self.known = sorted(known)
        super().__init__(message or (f"unknown info key {key!r}; known keys: "
                                     f"{', '.join(self.known) or 'none registered'}"))


class InfoArgumentError(InfoKeyError):
    """A known key asked with arguments its provider does not take."""


class LeaseHeld(StoreError):
    """Another process holds the lease: it maintains or processes this infrastructure."""
