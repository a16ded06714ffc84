"""Static look at the templates: syntax errors, the nodes they ask about, the names they use.

Strings are parsed (never rendered) with Jinja2's parser. A call of ``getip``,
``getprivip``, ``getipall`` or ``find_node_id`` with a constant string argument names a
node the template needs at render time; the compiler checks that node is a dependency.
A call with a computed argument (``getip(variables.target)``) is a render-time matter.

Templates render with strict undefined names (FORMATS.md section 4), so the scanner also
reports every other name the template takes from its context (kind ``name``) and every constant
path into ``variables`` (kind ``variables``, ``variables.db.port`` as ``db.port``); the
compiler checks them against occo.util.template_names and each node's own variables. A
name or path the template tests with ``is defined`` / ``is undefined`` or gives a
``default`` anywhere is guarded, and not reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes, pass_context
from jinja2.sandbox import SandboxedEnvironment

from occo.util import NODE_FUNCTIONS, TEMPLATE_NAMES, InputError, Location, join_path, location_of

__all__ = ["NODE_FUNCTIONS", "NAME", "VARIABLE", "TemplateRef", "TemplateScanner"]

NAME = "name"          # TemplateRef.function of a name taken from the context
VARIABLE = "variables"  # TemplateRef.function of a constant path into ``variables``
_MARKERS = ("{{", "{%", "{#")
_GUARD_TESTS = frozenset({"defined", "undefined"})
_GUARD_FILTERS = frozenset({"default", "d"})
#: Names every template has: not reported (``ip``, ``puppet`` depend on the section).
_ALWAYS = TEMPLATE_NAMES | frozenset(SandboxedEnvironment().globals)


def _unfoldable(func: Any) -> Any:
    """A stand-in for a filter or test that Jinja2 will not call at compile time (it folds
    only those that take no context); the scanner never renders, so it is never called."""
    @pass_context
    def stand_in(context: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)
    return stand_in


class _ScanEnvironment(SandboxedEnvironment):
    """Jinja2's sandbox for looking only: nothing in a template is evaluated.

    Generating code (``meta.find_undeclared_variables``) folds constant expressions, so a
    plain environment would compute ``{{ 9**99999999 }}``, ``{{ 'x' * 10**9 }}`` or
    ``{{ 'x'|center(10**9) }}`` while validating; here every operator is intercepted
    (which forbids folding it) and every filter and test takes the context.
    """

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self) -> None:
        super().__init__()
        self.filters: dict[str, Any] = {name: _unfoldable(f) for name, f in self.filters.items()}
        self.tests: dict[str, Any] = {name: _unfoldable(f) for name, f in self.tests.items()}


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
        self._env = _ScanEnvironment()
        self._cache: dict[str, tuple[tuple[tuple[str, str, int], ...], str | None]] = {}

    def _parse(self, text: str) -> tuple[tuple[tuple[str, str, int], ...], str | None]:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        result: tuple[tuple[tuple[str, str, int], ...], str | None]
        try:
            ast = self._env.parse(text)
            free = meta.find_undeclared_variables(ast)  # also refuses unknown filters, tests
        except TemplateSyntaxError as exc:
            result = ((), f"template syntax error at template line {exc.lineno}: {exc.message}")
        except RecursionError:
            result = ((), "template nested too deeply")
        except ValueError as exc:  # an integer literal beyond Python's 4300 digits
            result = ((), f"template cannot be read: {str(exc).split(';')[0]}")
        else:
            found = []
            bare: set[str] = set()
            for call in ast.find_all(nodes.Call):
                func = call.node
                if not (isinstance(func, nodes.Name) and func.name in NODE_FUNCTIONS
                        and call.args):
                    continue
                arg = call.args[0]
                if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                    found.append((func.name, arg.value, call.lineno))
                elif isinstance(arg, nodes.Name) and arg.name in free:
                    # getip(db): an undefined bare name is the node's name, as in Occopus
                    found.append((func.name, arg.name, call.lineno))
                    bare.add(arg.name)
            found.extend(_context_names(ast, bare))
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


def _path(node: nodes.Node) -> tuple[str, ...] | None:
    """``('variables', 'db', 'port')`` for ``variables.db.port`` / ``variables['db'].port``;
    ``None`` for anything that is not a constant path from a name."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return tuple(reversed(parts))
        else:
            return None


def _guarded(ast: nodes.Template) -> set[tuple[str, ...]]:
    """The paths the template tests with ``is defined`` or passes to ``default``."""
    out: set[tuple[str, ...]] = set()
    for test in ast.find_all(nodes.Test):
        if test.name in _GUARD_TESTS and (path := _path(test.node)):
            out.add(path)
    for flt in ast.find_all(nodes.Filter):
        if flt.name in _GUARD_FILTERS and flt.node is not None and (path := _path(flt.node)):
            out.add(path)
    return out


def _longest_paths(ast: nodes.Template, root: str) -> dict[tuple[str, ...], int]:
    """Each maximal constant path below ``root`` (``variables.a.b`` but not also
    ``variables.a``), with the template line where it is first used."""
    found: dict[tuple[str, ...], int] = {}
    inner: set[int] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if id(node) in inner:
            continue
        path = _path(node)
        if path is None or path[0] != root or len(path) < 2:
            continue
        child = node.node
        while isinstance(child, (nodes.Getattr, nodes.Getitem)):
            inner.add(id(child))
            child = child.node
        found.setdefault(path, node.lineno)
    for path in [p for p in found if any(len(q) > len(p) and q[:len(p)] == p for q in found)]:
        del found[path]
    return found


def _context_names(ast: nodes.Template, bare: set[str]) -> list[tuple[str, str, int]]:
    """(NAME, name, line) for every name the template takes from its context, and
    (VARIABLE, 'a.b', line) for every constant path into ``variables``; guarded ones, and
    the ``bare`` node names given to node functions, left out."""
    guarded = _guarded(ast)
    free = meta.find_undeclared_variables(ast)
    lines: dict[str, int] = {}
    used: set[str] = set()  # names used other than as a node function's bare argument
    args = {id(c.args[0]) for c in ast.find_all(nodes.Call)
            if isinstance(c.node, nodes.Name) and c.node.name in NODE_FUNCTIONS and c.args}
    for name in ast.find_all(nodes.Name):
        if name.ctx == "load":
            lines.setdefault(name.name, name.lineno)
            if id(name) not in args:
                used.add(name.name)
    out = [(NAME, n, lines.get(n, 1)) for n in sorted(free - _ALWAYS)
           if (n,) not in guarded and (n not in bare or n in used)]
    if "variables" in free and ("variables",) not in guarded:
        for path, line in _longest_paths(ast, "variables").items():
            if not any(path[:k] in guarded for k in range(2, len(path) + 1)):
                out.append((VARIABLE, ".".join(path[1:]), line))
    return out
