"""Declarative checks of user mappings, with located, actionable errors.

A :class:`Schema` lists the :class:`Field` s a mapping may hold. ``Schema.check`` returns
every problem at once (missing keys, unknown keys with the closest valid one suggested,
wrong types) as :class:`~occo.util.errors.InputError` s carrying the file, line, column
and YAML path of the offending value. Cloud handlers declare their resource sections
with it (entry point group ``occo.resource_schema``); the compiler and the configuration
loader use it for their own sections.

``Schema.validate`` also returns the warnings (a deprecated key, a number read where a
name was meant) and the mapping as OCCO keeps it: values converted the way Occopus
converts them (``coerce``), optional keys given as null dropped (``null="unset"``), and
sub-mappings checked against their own schema (``schema``).

A string holding a template (``{{ ... }}`` or ``{% ... %}``) is accepted for any kind
of field, since its value is only known once rendered.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

from .errors import InputError
from .located import join_path, location_of

__all__ = ["Field", "Schema", "Checked", "is_template", "describe_value", "KINDS",
           "COERCIONS", "NULL_MODES"]

KINDS = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
    "list": "a list",
    "mapping": "a mapping",
    "any": "any value",
}

#: ``Field.coerce``: what a value of another kind is turned into, the way Occopus would.
COERCIONS = {
    "str": "a number is kept as its text (a name such as flavor_name: 2)",
    "int": "a string or a whole float holding an integer is read as that integer",
}

#: ``Field.null`` (``None``: the schema's ``null``): what an explicit null means.
NULL_MODES = ("reject", "unset", "keep")

_UNSET = object()


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


def _coerced(coerce: str, value: Any) -> tuple[Any, str | None]:
    """``value`` converted by ``coerce`` (or unchanged) and a warning, if one is due."""
    if isinstance(value, bool) or is_template(value):
        return value, None
    if coerce == "str" and isinstance(value, (int, float)):
        text = str(value)
        if isinstance(value, float):
            return text, (f"the number {value!r} is read as the text {text!r}; quote it "
                          f"if you meant another spelling (YAML drops trailing zeros)")
        return text, None
    if coerce == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value), None
        if isinstance(value, str):
            try:
                return int(value.strip()), None
            except ValueError:
                return value, None
    return value, None


@dataclass(frozen=True, slots=True)
class Field:
    """One key of a mapping: its kind (``"str"``, ``"int|str"``, ...) and constraints.

    ``coerce`` names a conversion of :data:`COERCIONS`; ``null`` one of
    :data:`NULL_MODES` (``None``: as the schema says). ``replacement`` marks the key
    deprecated: it is accepted with a warning naming the key to use instead.
    ``schema`` checks a mapping value; ``ignore_case`` compares ``choices`` so. ``check``
    is a last test of a value of the right kind: it returns why the value does not fit
    (the message), or None.
    """

    name: str
    kind: str = "str"
    required: bool = False
    doc: str = ""
    items: str | None = None          # kind of each list item
    minimum: float | None = None      # for int and number
    choices: tuple[Any, ...] | None = None
    coerce: str | None = None
    null: str | None = None
    replacement: str | None = None
    schema: Schema | None = None
    ignore_case: bool = False
    check: Callable[[Any], str | None] | None = None
    _kinds: tuple = _field(init=False, repr=False, compare=False, hash=False)
    _item_kinds: tuple = _field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_kinds", tuple(self.kind.split("|")))
        object.__setattr__(self, "_item_kinds",
                           tuple(self.items.split("|")) if self.items else ())
        if self.coerce is not None and self.coerce not in COERCIONS:
            raise ValueError(f"unknown coercion {self.coerce!r}")
        if self.null is not None and self.null not in NULL_MODES:
            raise ValueError(f"unknown null mode {self.null!r}")
        for kind in self.kind.split("|") + (self.items.split("|") if self.items else []):
            if kind not in KINDS:
                raise ValueError(f"unknown field kind {kind!r}")

    def expected(self) -> str:
        words = " or ".join(KINDS[k] for k in self.kind.split("|"))
        if self.items:
            words += " of " + " or ".join(KINDS[k].split(" ", 1)[1] + "s"
                                           for k in self.items.split("|"))
        if self.minimum is not None:
            words += f" >= {self.minimum:g}"
        if self.choices:
            words = "one of " + ", ".join(repr(c) for c in self.choices)
            if self.ignore_case:
                words += " (in any case)"
        return words

    def convert(self, value: Any) -> tuple[Any, str | None]:
        """``value`` as it is kept (see ``coerce``) and a warning about it, or None."""
        return _coerced(self.coerce, value) if self.coerce else (value, None)

    def problem(self, value: Any) -> str | None:
        """Why ``value`` (already converted) does not fit, or None."""
        if is_template(value):
            return None
        if not any(_matches(k, value) for k in self._kinds):
            return f"must be {self.expected()}, got {describe_value(value)}"
        if self._item_kinds and isinstance(value, list):
            for item in value:
                if not is_template(item) and not any(_matches(k, item) for k in
                                                     self._item_kinds):
                    return f"must be {self.expected()}, got an item {describe_value(item)}"
        if self.minimum is not None and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and value < self.minimum:
            return f"must be {self.expected()}, got {describe_value(value)}"
        if self.choices:
            fold = (lambda v: v.casefold() if isinstance(v, str) else v) \
                if self.ignore_case else (lambda v: v)
            if fold(value) not in {fold(c) for c in self.choices}:
                return f"must be {self.expected()}, got {describe_value(value)}"
        if self.check is not None:
            return self.check(value)
        return None


@dataclass(slots=True)
class Checked:
    """What :meth:`Schema.validate` found: the problems, the warnings (``file:line:col:
    path: message``) and the mapping as kept (the input itself if there were problems)."""

    errors: list[InputError] = _field(default_factory=list)
    warnings: list[str] = _field(default_factory=list)
    value: Any = None


@dataclass(frozen=True, slots=True)
class Schema:
    """The keys a mapping may hold. ``extra_keys`` accepts keys that are not listed.

    ``null`` says what an optional key given as null means (see :data:`NULL_MODES`);
    ``one_of`` lists groups of keys of which at least one must be given.
    """

    name: str
    fields: tuple[Field, ...]
    extra_keys: bool = False
    doc: str = ""
    null: str = "reject"
    one_of: tuple[tuple[str, ...], ...] = ()
    _by_name: dict[str, Field] = _field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name)

    def check(self, value: Any, path: str, *, parent: Any = None, key: Any = None,
              ignore: Iterable[str] = ()) -> list[InputError]:
        """Every problem with ``value`` (found at ``parent[key]``, YAML path ``path``)."""
        return self.validate(value, path, parent=parent, key=key, ignore=ignore).errors

    def _null_mode(self, f: Field) -> str:
        return "reject" if f.required else (f.null or self.null)

    def validate(self, value: Any, path: str, *, parent: Any = None, key: Any = None,
                 ignore: Iterable[str] = ()) -> Checked:
        """Problems, warnings and the kept form of ``value`` (see :class:`Checked`)."""
        def where() -> Any:  # only worked out for a message
            return location_of(parent, key, path=path) if parent is not None \
                else location_of(value, path=path)

        out = Checked(value=value)
        if not isinstance(value, dict):
            out.errors.append(InputError(
                f"must be a mapping ({self.name}), got {describe_value(value)}",
                location=where()))
            return out
        skip = set(ignore) if ignore else ()
        for need in self.fields:
            if need.required and need.name not in value:
                deprecated = {d.replacement: d.name for d in self.fields
                              if d.replacement and d.name in value}
                hint = f"; {deprecated[need.name]!r} is deprecated: write {need.name!r} " \
                    "instead" if need.name in deprecated else ""
                out.errors.append(InputError(f"missing required key {need.name!r} "
                                             f"({self.name}: {need.expected()}){hint}",
                                             location=where()))
        for group in self.one_of:
            if not any(value.get(k) is not None for k in group):
                out.errors.append(InputError(
                    f"missing key: one of {', '.join(repr(k) for k in group)} is required "
                    f"({self.name})", location=where()))
        kept: dict[Any, Any] = {}
        for k, v in value.items():
            if k in skip:
                kept[k] = v
                continue
            f = self._by_name.get(k) if isinstance(k, str) else None
            sub = join_path(path, k) if f is None or f.replacement or f.schema is not None \
                else None
            if f is None:
                kept[k] = v
                if self.extra_keys:
                    continue
                close = difflib.get_close_matches(str(k), self.names, n=1, cutoff=0.6)
                did_you_mean = f"; did you mean {close[0]!r}?" if close else \
                    f"; valid keys: {', '.join(self.names)}"
                out.errors.append(InputError(
                    f"unknown key {k!r} in {self.name}{did_you_mean}",
                    location=location_of(value, k, path=sub, of_key=True)))
                continue
            if f.replacement:
                at = location_of(value, k, path=sub, of_key=True)
                out.warnings.append(f"{at}: key {k!r} of the {self.name} is deprecated; "
                                    f"use {f.replacement!r} instead")
            if v is None and self._null_mode(f) != "reject":
                if self._null_mode(f) == "keep":
                    kept[k] = v
                continue
            converted, note = f.convert(v)
            problem = f.problem(converted)
            if problem:
                out.errors.append(InputError(problem, location=location_of(
                    value, k, path=sub or join_path(path, k))))
                continue
            if note:
                out.warnings.append(f"{location_of(value, k, path=sub or join_path(path, k))}:"
                                    f" {note}")
            if f.schema is not None and isinstance(converted, dict):
                inner = f.schema.validate(converted, sub or join_path(path, k), parent=value,
                                          key=k)
                out.errors.extend(inner.errors)
                out.warnings.extend(inner.warnings)
                converted = inner.value
            kept[k] = converted
        if not out.errors:
            out.value = kept
        return out
