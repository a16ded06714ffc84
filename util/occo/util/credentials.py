"""The credentials file (``auth_data.yaml``): loading it and choosing an entry for a node.

The file holds one list per section that needs credentials (FORMATS.md section 5)::

    resource:
      - type: ec2
        endpoint: https://ec2.example.org      # every key besides auth_data is a filter
        auth_data: {accesskey: ..., secretkey: ...}
    config_management:
      - type: chef
        auth_data: {client_name: me, client_key: !text_import {url: file://me.pem}}

An entry applies to a node when every key of the entry except ``auth_data`` equals the
same key of the node's ``resource`` (or ``config_management``) section. Exactly one entry
must apply; none or several is an :class:`~occo.util.errors.InputError` that names the
node, the section and the candidate entries by their filter keys (never their secrets).

Every value under ``auth_data`` is registered with :func:`~occo.util.secrets.register_secret`
as it is loaded, so logs and error messages show ``***`` instead. Entries print without
their ``auth_data``; code that needs the secret reads ``entry.auth_data`` explicitly.

Shared by the cloud handlers (``resource``) and config management (``config_management``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, InputErrors, Location
from .located import join_path, location_of
from .schema import describe_value
from .secrets import REDACTED, is_secret_key, register_secret
from .yamlload import load_yaml_file, load_yaml_text

__all__ = ["SECTIONS", "CredentialEntry", "Credentials", "load_credentials",
           "parse_credentials", "credentials_from_text"]

#: The sections of a node definition that credentials are chosen for.
SECTIONS = ("resource", "config_management")
_AUTH = "auth_data"
_MAX_LISTED = 10  # candidates named in one error message


def _show(key: str, value: Any) -> str:
    if is_secret_key(key):
        return f"{key}={REDACTED}"
    return f"{key}={value}" if isinstance(value, (str, int, float, bool)) \
        else f"{key}={describe_value(value)}"


@dataclass(frozen=True, slots=True)
class CredentialEntry:
    """One entry of the credentials file: its filter keys and (hidden) ``auth_data``."""

    section: str
    index: int
    filters: Mapping[str, Any]
    auth_data: Any = field(repr=False, compare=False)
    location: Location | None = None

    @property
    def label(self) -> str:
        """``resource[0] (type=ec2, endpoint=https://...)``: names the entry, no secret."""
        keys = ", ".join(_show(k, v) for k, v in self.filters.items())
        return f"{self.section}[{self.index}] ({keys or 'no filter keys: matches any'})"

    def describe(self) -> str:
        """The label and where the entry was written."""
        where = ""
        if self.location and self.location.file:
            where = f" at {self.location.file}"
            if self.location.line is not None:
                where += f":{self.location.line}"
        return self.label + where

    def matches(self, section: Mapping[str, Any]) -> bool:
        """Whether every filter key equals the same key of ``section``."""
        for key, value in self.filters.items():
            if key not in section or section[key] != value:
                return False
        return True

    def differences(self, section: Mapping[str, Any]) -> list[str]:
        """The filter keys whose values ``section`` does not share."""
        return [k for k, v in self.filters.items() if k not in section or section[k] != v]


class Credentials:
    """The loaded credentials file, ready to match entries to nodes' sections."""

    __slots__ = ("source", "_entries")

    def __init__(self, entries: Iterable[CredentialEntry] = (), *,
                 source: str | None = None) -> None:
        self.source = source
        grouped: dict[str, list[CredentialEntry]] = {s: [] for s in SECTIONS}
        for entry in entries:
            grouped.setdefault(entry.section, []).append(entry)
        self._entries = {k: tuple(v) for k, v in grouped.items()}

    @classmethod
    def empty(cls) -> Credentials:
        """No credentials at all (no file given): fine for clouds that need none."""
        return cls()

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}: {len(v)}" for k, v in self._entries.items())
        return f"<Credentials from {self.source or 'nowhere'} ({counts})>"

    def entries(self, section: str) -> tuple[CredentialEntry, ...]:
        return self._entries.get(section, ())

    def candidates(self, section: str, values: Mapping[str, Any]) -> list[CredentialEntry]:
        """Every entry of ``section`` whose filters all match ``values``."""
        return [e for e in self.entries(section) if e.matches(values)]

    def match(self, section: str, values: Mapping[str, Any], *,
              node: str | None = None) -> CredentialEntry:
        """The one entry for a node's ``section`` (``resource`` or ``config_management``).

        Raises :class:`InputError` naming the node, the section and the candidates when
        none or several entries match.
        """
        if section not in SECTIONS:
            raise ValueError(f"credentials are chosen for {SECTIONS}, not {section!r}")
        found = self.candidates(section, values)
        if len(found) == 1:
            return found[0]
        who = f"node {node!r}" if node else "this node"
        kind = values.get("type")
        what = f"its {section} section" + (f" (type {kind!r})" if kind is not None else "")
        where = Location(file=self.source, path=section) if self.source else None
        if found:
            listed = "; ".join(e.describe() for e in found[:_MAX_LISTED])
            more = f"; and {len(found) - _MAX_LISTED} more" if len(found) > _MAX_LISTED else ""
            raise InputError(
                f"{who}: {len(found)} credential entries match {what}, exactly one must: "
                f"{listed}{more}; add a filter key (such as endpoint or name) so only one "
                "applies", location=where, node=node)
        entries = self.entries(section)
        if self.source is None:
            raise InputError(f"{who}: {what} needs credentials, but no credentials file "
                             f"was given (auth_data.yaml with a {section!r} entry)", node=node)
        if not entries:
            raise InputError(f"{who}: {what} needs credentials, but {self.source} has no "
                             f"{section!r} entries", location=where, node=node)
        ranked = sorted(entries, key=lambda e: len(e.differences(values)))
        shown = []
        for entry in ranked[:_MAX_LISTED]:
            diff = entry.differences(values)
            mine = ", ".join(_show(k, values[k]) if k in values else f"{k} missing"
                             for k in diff)
            shown.append(f"{entry.describe()}: differs in {', '.join(diff)} (the node has "
                         f"{mine})")
        more = f"; and {len(entries) - _MAX_LISTED} more" if len(entries) > _MAX_LISTED else ""
        raise InputError(f"{who}: no credential entry matches {what}; candidates: "
                         f"{'; '.join(shown)}{more}", location=where, node=node)


def parse_credentials(data: Any, *, source: str = "<credentials>") -> Credentials:
    """Validate loaded credentials data and register every secret in it."""
    if data is None:
        return Credentials(source=source)
    if not isinstance(data, dict):
        raise InputError(f"the credentials file must be a mapping with {' and/or '.join(SECTIONS)}"
                         f" lists, got {describe_value(data)}",
                         location=location_of(data, path="") or Location(file=source))
    errors: list[InputError] = []
    entries: list[CredentialEntry] = []
    for key, items in data.items():
        if key not in SECTIONS:
            hint = difflib.get_close_matches(str(key), SECTIONS, n=1, cutoff=0.6)
            tail = f"; did you mean {hint[0]!r}?" if hint else \
                f"; valid keys: {', '.join(SECTIONS)}"
            errors.append(InputError(f"unknown section {key!r} in the credentials file{tail}",
                                     location=location_of(data, key, path=str(key), of_key=True)))
            continue
        if items is None:
            continue
        if not isinstance(items, list):
            errors.append(InputError(f"must be a list of entries, got {describe_value(items)}",
                                     location=location_of(data, key, path=str(key))))
            continue
        for index, item in enumerate(items):
            path = join_path(str(key), index)
            where = location_of(items, index, path=path)
            if where is None or where.file is None:   # data that did not come from a file
                where = Location(file=source, path=path)
            if not isinstance(item, dict):
                errors.append(InputError(f"an entry must be a mapping with {_AUTH!r}, got "
                                         f"{describe_value(item)}", location=where))
                continue
            if _AUTH not in item:
                errors.append(InputError(f"missing required key {_AUTH!r} (the secrets of this "
                                         "entry)", location=where))
                continue
            auth = item[_AUTH]
            if not isinstance(auth, dict) or not auth:
                errors.append(InputError(
                    f"{_AUTH} must be a non-empty mapping, got {describe_value(auth)}",
                    location=location_of(item, _AUTH, path=join_path(path, _AUTH))))
                continue
            register_secret(auth)
            filters = {str(k): v for k, v in item.items() if k != _AUTH}
            entries.append(CredentialEntry(section=str(key), index=index, filters=filters,
                                           auth_data=_plain(auth), location=where))
    if errors:
        raise errors[0] if len(errors) == 1 else InputErrors(errors)
    return Credentials(entries, source=source)


def _plain(value: Any) -> Any:
    """Plain dicts and lists (no location bookkeeping kept beside the secrets)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_credentials(path: str | Path, *, allow_outside: bool = False) -> Credentials:
    """Load ``auth_data.yaml`` (``!text_import`` works, relative to the file)."""
    data = load_yaml_file(path, allow_outside=allow_outside)
    return parse_credentials(data, source=str(path))


def credentials_from_text(text: str, *, source: str = "<credentials>") -> Credentials:
    """Credentials from YAML text (API input: include tags are refused)."""
    return parse_credentials(load_yaml_text(text, source=source), source=source)

