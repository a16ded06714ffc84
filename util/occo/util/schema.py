"""Declarative checks of user mappings, with located, actionable errors.

A :class:`Schema` lists the :class:`Field` s a mapping may hold. ``Schema.check`` returns
every problem at once (missing keys, unknown keys with the closest valid one suggested,
wrong types) as :class:`~occo.util.errors.InputError` s carrying the file, line, column
and YAML path of the offending value. Cloud handlers declare their resource sections
with it (entry point group ``occo.resource_schema``); the compiler and the configuration
loader use it for their own sections.

A string holding a template (``{{ ... }}`` or ``{% ... %}``) is accepted for any kind
of field, since its value is only known once rendered.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable

from .errors import InputError
from .located import join_path, location_of

__all__ = ["Field", "Schema", "is_template", "describe_value", "KINDS"]

KINDS = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
    "list": "a list",
    "mapping": "a mapping",
    "any": "any value",
}


def is_template(value: Any) -> bool:
    """Whether ``value`` is a string that will be rendered as a template."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def describe_value(value: Any) -> str:
    """A short, quoted description of what the user wrote, for error messages."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _matches(kind: str, value: Any) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if kind == "mapping":
        return isinstance(value, dict)
    raise ValueError(f"unknown field kind {kind!r}")


@dataclass(frozen=True, slots=True)
class Field:
    """One key of a mapping: its kind (``"str"``, ``"int|str"``, ...) and constraints."""

    name: str
    kind: str = "str"
    required: bool = False
    doc: str = ""
    items: str | None = None          # kind of each list item
    minimum: float | None = None      # for int and number
    choices: tuple[Any, ...] | None = None

    def expected(self) -> str:
        words = " or ".join(KINDS[k] for k in self.kind.split("|"))
        if self.items:
            words += " of " + " or ".join(KINDS[k].split(" ", 1)[1] + "s"
                                           for k in self.items.split("|"))
        if self.minimum is not None:
            words += f" >= {self.minimum:g}"
        if self.choices:
            words = "one of " + ", ".join(repr(c) for c in self.choices)
        return words

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit, or None."""
        if is_template(value):
            return None
        kinds = self.kind.split("|")
        if not any(_matches(k, value) for k in kinds):
            return f"must be {self.expected()}, got {describe_value(value)}"
        if self.items and isinstance(value, list):
            for item in value:
                if not is_template(item) and not any(_matches(k, item) for k in
                                                     self.items.split("|")):
                    return f"must be {self.expected()}, got an item {describe_value(item)}"
        if self.minimum is not None and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and value < self.minimum:
            return f"must be {self.expected()}, got {describe_value(value)}"
        if self.choices and value not in self.choices:
            return f"must be {self.expected()}, got {describe_value(value)}"
        return None


@dataclass(frozen=True, slots=True)
class Schema:
    """The keys a mapping may hold. ``extra_keys`` accepts keys that are not listed."""

    name: str
    fields: tuple[Field, ...]
    extra_keys: bool = False
    doc: str = ""

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def check(self, value: Any, path: str, *, parent: Any = None, key: Any = None,
              ignore: Iterable[str] = ()) -> list[InputError]:
        """Every problem with ``value`` (found at ``parent[key]``, YAML path ``path``)."""
        where = location_of(parent, key, path=path) if parent is not None \
            else location_of(value, path=path)
        if not isinstance(value, dict):
            return [InputError(f"must be a mapping ({self.name}), got {describe_value(value)}",
                               location=where)]
        errors: list[InputError] = []
        skip = set(ignore)
        for f in self.fields:
            if f.required and f.name not in value:
                errors.append(InputError(f"missing required key {f.name!r} ({self.name}: "
                                         f"{f.expected()})", location=where))
        for k, v in value.items():
            if k in skip:
                continue
            sub = join_path(path, k)
            f = self.field(k) if isinstance(k, str) else None
            if f is None:
                if self.extra_keys:
                    continue
                hint = difflib.get_close_matches(str(k), self.names, n=1, cutoff=0.6)
                did_you_mean = f"; did you mean {hint[0]!r}?" if hint else \
                    f"; valid keys: {', '.join(self.names)}"
                errors.append(InputError(f"unknown key {k!r} in {self.name}{did_you_mean}",
                                         location=location_of(value, k, path=sub, of_key=True)))
                continue
            problem = f.problem(v)
            if problem:
                errors.append(InputError(problem, location=location_of(value, k, path=sub)))
        return errors
