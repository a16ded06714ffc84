"""Fast rendering of a cloud-config given as a mapping: dump once, fill in per instance.

A ``context_template`` that is a mapping is dumped as ``#cloud-config`` YAML. Dumping a
large mapping for each of thousands of instances would dominate the cost, so the
mapping is dumped once per implementation with a unique placeholder in place of every
template string; each instance then renders only the templates and splices their YAML
encoding into the dumped text. Each value is encoded on its own (a block literal for
multi-line text, a double-quoted scalar otherwise, a flow collection for typed values),
so a rendered value can never change the document's structure: a password with a quote
or a key with newlines stays one value.

When a mapping key is itself a template, or the dump does not show each placeholder
exactly once, the slower way is taken: render the whole mapping, then dump it.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

import yaml

from ._sandbox import budget
from .templates import TemplateRenderer, Where, is_template_text

__all__ = ["CLOUD_CONFIG_HEADER", "CloudConfigTemplate", "dump_cloud_config", "yaml_scalar"]

CLOUD_CONFIG_HEADER = "#cloud-config\n"

_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Safe dumper that writes multi-line text as block literals (readable user-data)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_cloud_config(mapping: Mapping[str, Any]) -> str:
    """``#cloud-config`` and ``mapping`` as block-style YAML, keys in their order."""
    return CLOUD_CONFIG_HEADER + yaml.dump(_plain(mapping), Dumper=_Dumper,
                                           default_flow_style=False, sort_keys=False,
                                           allow_unicode=True, width=4096)


def _plain(value: Any) -> Any:
    """Plain dicts and lists (the dumper refuses dict and list subclasses)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# Characters a YAML block literal cannot carry as they are.
_NOT_LITERAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff"
                          "\ufffe\uffff]")
_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def _double_quoted(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def _literal(text: str, column: int) -> str | None:
    """``text`` as a block literal indented to ``column``, or None if it cannot be one."""
    if "\n" not in text or _NOT_LITERAL.search(text):
        return None
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    lines = body.split("\n")
    for line in lines:  # the first line with content fixes the indentation
        if line.strip(" "):
            if line[0] in " \t":
                return None
            break
        if line:
            return None  # a leading line of spaces only would be misread
    else:
        return None
    chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
    pad = " " * max(column, 1)
    out = [f"|{chomp}"] + [pad + line if line else "" for line in lines]
    out += [""] * (trailing - 1)
    return "\n".join(out)


def yaml_scalar(value: Any, column: int) -> str:
    """A YAML encoding of ``value`` for a value position at ``column``."""
    if isinstance(value, str):
        return _literal(value, column) or _double_quoted(value)
    text = yaml.dump(_plain(value), Dumper=_Dumper, default_flow_style=True, width=10 ** 9,
                     allow_unicode=True)
    if text.endswith("\n...\n"):
        text = text[:-5]
    return text.strip()


class _Fallback(Exception):
    pass


def _block_indent(prefix: str) -> int:
    """The indentation for a block literal whose header ends ``prefix`` (its line so far).

    The content must be indented more than the node holding the value: the mapping after
    any ``- `` entries for ``key: value``, the sequence for ``- value``.
    """
    column = len(prefix)
    depth = len(prefix) - len(prefix.lstrip(" "))
    while prefix.startswith("- ", depth):
        depth += 2
    return min(column, depth + 2)


class CloudConfigTemplate:
    """One ``context_template`` mapping, prepared for rendering many instances."""

    def __init__(self, renderer: TemplateRenderer, mapping: Mapping[str, Any],
                 where: Where) -> None:
        self._renderer = renderer
        self._mapping = mapping
        self._where = where
        self._parts: list[str] | None = None
        self._slots: list[tuple[Any, Where, int]] = []
        try:
            self._prepare()
        except _Fallback:
            self._parts = None

    def _prepare(self) -> None:
        nonce = secrets.token_hex(6)
        found: list[tuple[str, Where]] = []

        def walk(value: Any, where: Where) -> Any:
            if isinstance(value, Mapping):
                out = {}
                for key, item in value.items():
                    if is_template_text(key):
                        raise _Fallback
                    out[key] = walk(item, where.at(value, key))
                return out
            if isinstance(value, (list, tuple)):
                return [walk(item, where.at(value, i)) for i, item in enumerate(value)]
            if is_template_text(value):
                found.append((value, where))
                return f"occo{nonce}n{len(found) - 1}"
            return value

        skeleton = dump_cloud_config(walk(self._mapping, self._where))
        pattern = re.compile(f"occo{nonce}n(\\d+)")
        parts: list[str] = []
        slots: list[tuple[Any, Where, int]] = []
        seen: set[int] = set()
        last = 0
        for match in pattern.finditer(skeleton):
            index = int(match.group(1))
            if index in seen or index >= len(found):
                raise _Fallback
            seen.add(index)
            text, where = found[index]
            line_start = skeleton.rfind("\n", 0, match.start()) + 1
            parts.append(skeleton[last:match.start()])
            slots.append((self._renderer._compiled(text, where), where,
                          _block_indent(skeleton[line_start:match.start()])))
            last = match.end()
        if len(seen) != len(found):
            raise _Fallback
        parts.append(skeleton[last:])
        self._parts, self._slots = parts, slots

    @property
    def fast(self) -> bool:
        """Whether the dump-once path is used (for tests and benchmarks)."""
        return self._parts is not None

    def render(self, names: Mapping[str, Any]) -> str:
        """The user-data of one instance."""
        renderer = self._renderer
        if self._parts is None:
            rendered = renderer.render(self._mapping, names, self._where)
            return dump_cloud_config(rendered)
        parts = self._parts
        out = [parts[0]]
        with budget(renderer.limits):
            for i, (compiled, where, column) in enumerate(self._slots):
                value = renderer._run(compiled.evaluate, names, where)
                out.append(yaml_scalar(value, column))
                out.append(parts[i + 1])
        return "".join(out)
