"""Rendering user templates: compiled once, cached by text, errors located and scrubbed.

Any string in a rendered section is a Jinja2 template (FORMATS.md section 4). Three kinds
of string are told apart when a text is first compiled:

- plain text (no ``{{``, ``{%`` or ``{#``): returned as it is, nothing to render;
- a single expression filling the whole string (``'{{ variables.port }}'``): its value
  keeps its type, so a number stays a number and a list a list (only plain JSON data;
  anything else is rendered as text);
- any other template: rendered to a string.

Compiled templates are cached by their text (bounded), so the 10,000 instances of one
node type compile each of its templates once. Mapping keys are rendered as text too.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.environment import Template, TemplateExpression
from jinja2.sandbox import SecurityError

from occo.util import Location, join_path, location_of

from ._sandbox import (
    ForbiddenTemplate,
    GuardedEnvironment,
    LimitExceeded,
    RenderLimits,
    budget,
    check_value,
    count_output,
)
from .errors import ServiceComposerError, TemplateError, TemplateLimitError, TemplateSecurityError

__all__ = ["TemplateRenderer", "Where", "is_template_text"]

_MARKERS = ("{{", "{%", "{#")
_PLAIN = (str, int, float, bool, type(None))


def is_template_text(value: Any) -> bool:
    """Whether ``value`` is a string Jinja2 would have anything to do with."""
    return isinstance(value, str) and any(m in value for m in _MARKERS)


@dataclass(frozen=True, slots=True)
class Where:
    """What is being rendered, for error messages: node, section and YAML path."""

    node: str
    node_type: str
    infra_id: str | None
    path: str
    container: Any = None
    key: Any = None

    def at(self, container: Any, key: Any) -> Where:
        return Where(self.node, self.node_type, self.infra_id, join_path(self.path, key),
                     container, key)

    def location(self) -> Location:
        if self.container is not None:
            found = location_of(self.container, self.key, path=self.path)
            if found is not None:
                return found
        return Location(path=self.path)


class _Text:
    __slots__ = ("template",)
    typed = False

    def __init__(self, template: Template) -> None:
        self.template = template

    def evaluate(self, names: Mapping[str, Any]) -> str:
        pieces = []
        try:
            for chunk in self.template.root_render_func(self.template.new_context(names)):
                count_output(chunk)
                pieces.append(chunk)
        except Exception:
            self.template.environment.handle_exception()  # re-raised, template lines
        return "".join(pieces)


class _Expression:
    __slots__ = ("expression", "text")
    typed = True

    def __init__(self, expression: TemplateExpression, text: _Text) -> None:
        self.expression = expression
        self.text = text

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        try:
            value = self.expression(names)
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
        except Exception:
            self.text.template.environment.handle_exception()
        if _is_plain(value, 0):
            if isinstance(value, tuple):
                value = list(value)
            check_value(value)
            if isinstance(value, str):
                count_output(value)
            return value
        return self.text.evaluate(names)


def _is_plain(value: Any, depth: int) -> bool:
    """JSON data only: what may become part of a NodeSpec as it is."""
    if isinstance(value, _PLAIN):
        return not isinstance(value, Undefined)
    if depth > 20:
        return False
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v, depth + 1) for k, v in value.items())
    return False


def _template_line(exc: BaseException) -> int | None:
    """The template line Jinja2's rewritten traceback points at, if any."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class TemplateRenderer:
    """Compiles and renders templates in the guarded sandbox; thread-safe."""

    def __init__(self, limits: RenderLimits | None = None, *, cache_size: int = 4096) -> None:
        self.limits = limits or RenderLimits()
        self.env = GuardedEnvironment()
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- compiling ---------------------------------------------------------------------

    def compile(self, text: str) -> Any:
        """The compiled form of ``text`` (cached); raises Jinja2's or the sandbox's error."""
        with self._lock:
            found = self._cache.get(text)
            if found is not None:
                self._cache.move_to_end(text)
                return found
        compiled = self._compile(text)
        with self._lock:
            self._cache[text] = compiled
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return compiled

    def _compile(self, text: str) -> Any:
        ast = self.env.prepare(text)
        whole = _Text(self.env.from_string(ast))
        body = ast.body
        if (text.startswith("{{") and text.endswith("}}") and len(body) == 1
                and isinstance(body[0], nodes.Output) and len(body[0].nodes) == 1
                and not isinstance(body[0].nodes[0], nodes.TemplateData)):
            assign = nodes.Template([nodes.Assign(nodes.Name("result", "store"),
                                                  body[0].nodes[0], lineno=1)], lineno=1)
            expression = TemplateExpression(self.env.from_string(assign), False)
            return _Expression(expression, whole)
        return whole

    # -- rendering ---------------------------------------------------------------------

    def render(self, value: Any, names: Mapping[str, Any], where: Where) -> Any:
        """``value`` with every template string in it rendered (a new structure).

        The whole value is one render for the limits: its time and its output.
        """
        with budget(self.limits):
            return self._walk(value, names, where)

    def render_text(self, text: str, names: Mapping[str, Any], where: Where) -> str:
        """One template rendered to a string (never typed)."""
        with budget(self.limits):
            if not is_template_text(text):
                return text
            compiled = self._compiled(text, where)
            target = compiled.text if compiled.typed else compiled
            return self._run(target.evaluate, names, where)

    def _walk(self, value: Any, names: Mapping[str, Any], where: Where) -> Any:
        if isinstance(value, str):
            if not is_template_text(value):
                return value
            return self._run(self._compiled(value, where).evaluate, names, where)
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                sub = where.at(value, key)
                if is_template_text(key):
                    compiled = self._compiled(key, sub)
                    target = compiled.text if compiled.typed else compiled
                    new_key = self._run(target.evaluate, names, sub)
                else:
                    new_key = key
                out[new_key] = self._walk(item, names, sub)
            return out
        if isinstance(value, (list, tuple)):
            return [self._walk(item, names, where.at(value, i)) for i, item in enumerate(value)]
        return value

    def _compiled(self, text: str, where: Where) -> Any:
        try:
            return self.compile(text)
        except TemplateSyntaxError as exc:
            raise _located(TemplateError, where, f"template syntax error at template line "
                                                 f"{exc.lineno}: {exc.message}") from exc
        except ForbiddenTemplate as exc:
            raise _located(TemplateSecurityError, where, f"refused: {exc}") from exc

    def _run(self, func: Callable[[Mapping[str, Any]], Any], names: Mapping[str, Any],
             where: Where) -> Any:
        try:
            return func(names)
        except ServiceComposerError as exc:
            located = _relocate(exc, where)
            if located is exc:
                raise
            raise located from exc
        except LimitExceeded as exc:
            raise _located(TemplateLimitError, where, f"refused: {exc}", exc) from exc
        except SecurityError as exc:
            raise _located(TemplateSecurityError, where,
                           f"refused by the sandbox: {exc}", exc) from exc
        except UndefinedError as exc:
            raise _located(TemplateError, where, f"undefined: {exc}", exc) from exc
        except RecursionError as exc:
            raise _located(TemplateLimitError, where,
                           "refused: recursion too deep (a macro that calls itself, or "
                           "a value nested too deeply?)",
                           exc) from exc
        except MemoryError as exc:
            raise _located(TemplateLimitError, where, "refused: out of memory", exc) from exc
        except TemplateSyntaxError as exc:
            raise _located(TemplateError, where, f"template syntax error: {exc.message}",
                           exc) from exc
        except ValueError as exc:
            if "integer string conversion" not in str(exc):
                raise _located(TemplateError, where, f"ValueError: {exc}", exc) from exc
            # an integer given to the template (not computed: those are bounded) too long
            # for Python to show; its own message names an interpreter setting
            raise _located(TemplateLimitError, where, "refused: an integer has more than "
                           f"{sys.get_int_max_str_digits()} digits and cannot be shown as "
                           "text", exc) from exc
        except Exception as exc:  # a failing expression: 1/0, a bad argument, ...
            raise _located(TemplateError, where, f"{type(exc).__name__}: {exc}", exc) from exc


def _prefix(where: Where, exc: BaseException | None) -> str:
    line = _template_line(exc) if exc is not None else None
    head = f"node {where.node!r} (type {where.node_type!r})"
    return f"{head}, template line {line}" if line else head


def _located(cls: type[ServiceComposerError], where: Where, problem: str,
             exc: BaseException | None = None) -> ServiceComposerError:
    return cls(f"{_prefix(where, exc)}: {problem}", location=where.location(),
               node=where.node, infra_id=where.infra_id)


def _relocate(exc: ServiceComposerError, where: Where) -> ServiceComposerError:
    """An error raised by a template function, with the template's place added."""
    if exc.location is not None:
        return exc
    return type(exc)(f"{_prefix(where, exc)}: {exc.message}", location=where.location(),
                     node=where.node, infra_id=where.infra_id)
