"""Static look at the templates: syntax errors, and which nodes they ask about.

Strings are parsed (never rendered) with Jinja2's parser. A call of ``getip``,
``getprivip``, ``getipall`` or ``find_node_id`` with a constant string argument names a
node the template needs at render time; the compiler checks that node is a dependency.
A call with a computed argument (``getip(variables.target)``) is a render-time matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from occo.util import InputError, location_of
from occo.util.errors import Location
from occo.util.located import join_path

__all__ = ["NODE_FUNCTIONS", "TemplateRef", "TemplateScanner"]

NODE_FUNCTIONS = frozenset({"getip", "getprivip", "getipall", "find_node_id"})
_MARKERS = ("{{", "{%", "{#")


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """``function('target')`` written in the template at ``location``, template line
    ``line``."""

    function: str
    target: str
    location: Location | None
    line: int

    def describe(self) -> str:
        where = str(self.location) if self.location else "a template"
        extra = f" (template line {self.line})" if self.line > 1 else ""
        return f"{where}{extra}"


class TemplateScanner:
    """Finds template syntax errors and node references in nested user data.

    Results are cached by template text: the same cloud-init file imported by many node
    types, or the same variable on thousands of nodes, is parsed once.
    """

    def __init__(self) -> None:
        self._env = SandboxedEnvironment()
        self._cache: dict[str, tuple[tuple[tuple[str, str, int], ...], str | None]] = {}

    def _parse(self, text: str) -> tuple[tuple[tuple[str, str, int], ...], str | None]:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        try:
            ast = self._env.parse(text)
        except TemplateSyntaxError as exc:
            result: tuple[tuple[tuple[str, str, int], ...], str | None] = (
                (), f"template syntax error at template line {exc.lineno}: {exc.message}")
        else:
            found = []
            for call in ast.find_all(nodes.Call):
                func = call.node
                if isinstance(func, nodes.Name) and func.name in NODE_FUNCTIONS and call.args \
                        and isinstance(call.args[0], nodes.Const) \
                        and isinstance(call.args[0].value, str):
                    found.append((func.name, call.args[0].value, call.lineno))
            result = (tuple(found), None)
        self._cache[text] = result
        return result

    def scan(self, value: Any, path: str, *, parent: Any = None, key: Any = None,
             errors: list[InputError] | None = None) -> list[TemplateRef]:
        """Every node reference in the strings of ``value`` (found at ``parent[key]``);
        syntax errors are appended to ``errors``."""
        refs: list[TemplateRef] = []
        for text, container, k, where in _strings(value, path, parent, key):
            if not any(marker in text for marker in _MARKERS):
                continue
            found, problem = self._parse(text)
            if problem is not None or found:
                location = location_of(container, k, path=where) if container is not None \
                    else Location(path=where)
                if problem is not None and errors is not None:
                    errors.append(InputError(problem, location=location))
                refs.extend(TemplateRef(f, t, location, line) for f, t, line in found)
        return refs


def _strings(value: Any, path: str, parent: Any, key: Any
             ) -> Iterator[tuple[str, Any, Any, str]]:
    """(text, container, key, path) of every string in ``value``, keys excluded."""
    stack = [(value, parent, key, path)]
    while stack:
        item, container, k, where = stack.pop()
        if isinstance(item, str):
            yield item, container, k, where
        elif isinstance(item, dict):
            for sub_key, sub in reversed(list(item.items())):
                stack.append((sub, item, sub_key, join_path(where, sub_key)))
        elif isinstance(item, (list, tuple)):
            for i in range(len(item) - 1, -1, -1):
                sub = item[i]
                stack.append((sub, item, i, join_path(where, i)))
