"""The Jinja2 environment templates run in: sandboxed, strict, and bounded in time and size.

Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` already refuses access to
Python internals (``''.__class__``, ``cycler.__init__.__globals__``) and the modification
of the shared lists and dicts templates receive. On top of it this module bounds what
one render may cost, because the templates come from users:

- **time**: a deadline is checked wherever the sandbox sees the template work: every
  function or method call (macros included), attribute and item access, filter, loop
  iteration (each ``{% for %}``'s iterable is wrapped at compile time) and output chunk;
- **size**: operations that could build a huge value in one step are checked *before*
  they run, from the sizes of their operands (``'x' * n``, ``2 ** n``, ``a ~ b``,
  ``'%09999999d' % 1``, ``'%s' % big``, ``'{:>99999999}'.format``, ``'{0}{0}'.format``,
  ``str.center`` and friends, ``replace``, ``translate``, ``join``, ``range``, the
  ``wordwrap``, ``slice``, ``batch``, ``sum`` and ``tojson`` filters, and turning any
  container into text), and values and outputs are checked after;
- **memory**: every value a template builds (by an operator, a call, a filter, a list,
  tuple or dict literal, ``~``) counts towards ``max_built``, and so does the text a macro,
  a call block, ``{% set %}...{% endset %}`` or ``{% filter %}`` collects before it
  returns; a container is measured by the text it would become, so a list of a thousand
  references to one long string is as large as its text, not as its thousand pointers;
- **integers**: no integer larger than ``max_int_bits`` is computed, and none that Python
  could not turn into text (``sys.get_int_max_str_digits()``);
- **files**: there is no loader, and ``include``/``import``/``extend`` are refused when
  the template is compiled, with a message that says so.

Limits are per render (one section of one instance) and live in a thread-local budget
(``_budget``), so renders in different threads do not share them; the size estimates are
in ``_estimate``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context, pass_eval_context
from jinja2.runtime import markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from ._budget import (
    LimitExceeded,
    RenderLimits,
    _account,
    _check_int,
    _current,
    _refuse_as_text,
    _refuse_items,
    _refuse_shown,
    _refuse_size,
    _refuse_text,
    _refuse_work,
    _tick,
    budget,
    check_value,
    count_output,
)
from ._estimate import brace_size, long_word_cost, nested_units, percent_size, text_size

__all__ = ["RenderLimits", "LimitExceeded", "ForbiddenTemplate", "GuardedEnvironment",
           "budget", "check_value", "count_output"]

_FORMATTER = string.Formatter()


class ForbiddenTemplate(Exception):
    """A template uses a construct OCCO does not allow (include, import, extends)."""


_NUMBER = re.compile(r"\d+")
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _check_width(run: str) -> None:
    limit = _current().limits.max_output
    if len(run) > 9 or int(run) > limit:
        raise LimitExceeded(f"a format width or precision of {run} exceeds the output "
                            f"limit of {limit}")


def _check_int_args(args: Any) -> None:
    """Widths taken from the arguments (``'%*d'``, ``'{:{w}}'``)."""
    values = args.values() if isinstance(args, dict) else \
        args if isinstance(args, (list, tuple)) else [args]
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            _check_width(str(abs(value)))


def check_percent_format(fmt: str, args: Any) -> None:
    """Refuse ``fmt % args`` if a width or precision would exceed the output limit."""
    starred = False
    for match in _PERCENT.finditer(fmt):
        for group in match.groups():
            if group == "*":
                starred = True
            elif group:
                _check_width(group)
    if starred:
        _check_int_args(args)


def check_brace_format(fmt: str, args: tuple, kwargs: dict) -> None:
    """Refuse ``fmt.format(...)`` if a width or precision would exceed the output limit."""
    try:
        fields = list(_FORMATTER.parse(fmt))
    except ValueError:
        return  # str.format reports the mistake itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        for run in _NUMBER.findall(re.sub(r"\{[^}]*\}", "", spec)):
            _check_width(run)
        if "{" in spec:
            _check_int_args(list(args) + list(kwargs.values()))


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else 0


def _precheck_method(name: str, owner: str, args: tuple, kwargs: dict) -> None:
    """Estimate what a str method would build before it runs."""
    if name in ("ljust", "rjust", "center", "zfill") and args:
        if isinstance(args[0], int):
            _refuse_size(args[0], f"str.{name}()")
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab, int):
            _refuse_size(len(owner) + owner.count("\t") * tab, "str.expandtabs()")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) \
            and isinstance(args[1], str):
        _precheck_replace(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
    elif name == "join" and args:
        _precheck_join(owner, args[0])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        if longest > 1:
            _refuse_size(len(owner) * longest, "str.translate()")
    # format and format_map: wrap_str_format


def _precheck_replace(text: str, old: str, new: str, count: Any) -> None:
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _refuse_size(len(text) + hits * max(0, len(new) - len(old)), "replace()")


def _precheck_join(separator: Any, items: Any) -> None:
    if isinstance(items, (list, tuple, set, frozenset)):
        cache = _current().sizes
        total = sum(text_size(x, cache) for x in items)
        total += text_size(separator, cache) * max(0, len(items) - 1)
        _refuse_size(total, "join()")


def materialise(items: Any) -> Any:
    """An iterator as a list, bounded in length and in the size of its strings."""
    if isinstance(items, (str, bytes, list, tuple, dict, set, frozenset)) or \
            not hasattr(items, "__iter__"):
        return items
    current = _current()
    out, size = [], 0
    for item in items:
        _tick()
        out.append(item)
        size += len(item) if isinstance(item, str) else 1
        if len(out) > current.limits.max_items or size > current.limits.max_output:
            raise LimitExceeded(f"joining would build more than {current.limits.max_output} "
                                "characters")
    return out


def guarded_range(*args: int) -> Iterator[int]:
    """``range`` for templates: bounded in length, and checking the deadline as it goes."""
    span = range(*args)
    limit = _current().limits.max_items
    if len(span) > limit:
        raise LimitExceeded(f"range() of {len(span)} items; the limit is {limit}")
    return _loop_guard(span)


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every ``{% for %}`` iterates through this: the deadline is checked per item."""
    for item in iterable:
        _tick()
        yield item


# Filters that do not turn their arguments into text (their results are checked after).
_STRUCTURAL = frozenset({
    "abs", "attr", "batch", "bool", "count", "d", "default", "dictsort", "first", "float",
    "groupby", "int", "items", "join", "last", "length", "list", "map", "max", "min",
    "random", "reject", "rejectattr", "reverse", "round", "select", "selectattr", "slice",
    "sort", "sum", "unique", "occo_loop_guard"})


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # filters marked pass_context/pass_environment/pass_eval_context get that first
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if name == "join" and len(args) > skip:
            args = (*args[:skip], materialise(args[skip]), *args[skip + 1:])
        _precheck_filter(name, args[skip:], kwargs)
        return check_value(func(*args, **kwargs), built=True)
    return guarded


def _precheck_filter(name: str, args: tuple, kwargs: dict) -> None:
    value, rest = (args[0], args[1:]) if args else (None, ())
    if name not in _STRUCTURAL:
        _refuse_shown(list(args) + list(kwargs.values()), f"the {name} filter")
    if name == "center":
        width = rest[0] if rest else kwargs.get("width", 80)
        if isinstance(width, int):
            _refuse_size(width, "the center filter")
    elif name == "indent":
        width = rest[0] if rest else kwargs.get("width", 4)
        size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        text = str(value) if value is not None else ""
        _refuse_size(len(text) + (text.count("\n") + 1) * size, "the indent filter")
    elif name == "format" and isinstance(value, str):
        check_percent_format(value, rest or kwargs)
        _refuse_text(percent_size(value, kwargs or rest, _current().sizes),
                     "the format filter")
    elif name == "replace" and isinstance(value, (str, int, float)) and len(rest) >= 2:
        _precheck_replace(str(value), str(rest[0]), str(rest[1]),
                          rest[2] if len(rest) > 2 else kwargs.get("count"))
    elif name == "join":
        _precheck_join(rest[0] if rest else kwargs.get("d", ""), value)
    elif name == "wordwrap" and isinstance(value, str):
        _precheck_wordwrap(value, rest, kwargs)
    elif name in ("slice", "batch"):
        count = rest[0] if rest else kwargs.get("slices", kwargs.get("linecount"))
        if isinstance(count, int):
            _refuse_items(count, f"the {name} filter")
    elif name == "sum":
        start = rest[1] if len(rest) > 1 else kwargs.get("start", 0)
        if isinstance(start, (str, list, tuple)) and isinstance(value, (list, tuple)):
            _precheck_sum(value, start)
    elif name == "tojson":
        indent = rest[0] if rest else kwargs.get("indent")
        width = len(indent) if isinstance(indent, str) else \
            indent if isinstance(indent, int) else 0
        if width > 0:
            limit = _current().limits.max_output
            _refuse_text(nested_units(value, limit // width + 1) * width,
                         "the tojson filter (indented)")


def _precheck_wordwrap(text: str, rest: tuple, kwargs: dict) -> None:
    """textwrap is pure Python: its time grows with the pieces it wraps (words, and the
    parts of hyphenated words), and breaking a long word copies the rest of it each time."""
    width = rest[0] if rest else kwargs.get("width", 79)
    if not isinstance(width, int):
        return
    breaks = rest[1] if len(rest) > 1 else kwargs.get("break_long_words", True)
    wrapstring = rest[2] if len(rest) > 2 else kwargs.get("wrapstring")
    hyphens = rest[3] if len(rest) > 3 else kwargs.get("break_on_hyphens", True)
    words = text.split()
    pieces = len(words) + (len(_HYPHENATED.findall(text)) if hyphens else 0)
    limit = _current().limits.max_items
    if pieces > limit:
        raise LimitExceeded(f"the wordwrap filter would wrap {pieces} words and parts of "
                            f"words; the limit is {limit}")
    if not breaks:  # long words stay whole: no more lines than words, no copying
        return
    nonspace = sum(map(len, words))
    lines = nonspace // max(1, width)  # each line holds at most ``width`` of them
    if isinstance(wrapstring, str) and lines > 1:
        _refuse_size(nonspace + (lines - 1) * len(wrapstring), "the wordwrap filter")
    _refuse_work(long_word_cost(words, width), "the wordwrap filter")


_HYPHENATED = re.compile(r"\w-(?=\w)")  # where textwrap may break a word


def _precheck_sum(values: list | tuple, start: Any) -> None:
    """``sum`` of strings or lists copies the growing total once per item."""
    total = _sized(start)
    work = 0
    for item in values:
        total += _sized(item)
        work += total
    if isinstance(start, str):
        _refuse_size(total, "the sum filter")
    else:
        _refuse_items(total, "the sum filter")
    _refuse_work(work, "the sum filter")


def _mul_precheck(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(times, int) and not isinstance(times, bool) and _sized(seq):
            limits = _current().limits
            size = len(seq) * times
            cap = limits.max_output if isinstance(seq, (str, bytes)) else limits.max_items
            if size > cap:
                raise LimitExceeded(f"repeating a value {times} times would build {size} "
                                    f"items; the limit is {cap}")
    if isinstance(left, int) and isinstance(right, int):
        _check_int(left.bit_length() + right.bit_length() - 1, _current().limits)


def _pow_precheck(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
            and abs(base) > 1:
        if (base.bit_length() - 1) * exponent > _current().limits.max_int_bits:
            raise LimitExceeded(f"{base} ** {exponent} is too large to compute (more than "
                                f"{_current().limits.max_int_bits} bits)")


@pass_context
def _emit(context: Any, value: Any, buffered: bool) -> Any:
    """Every ``{{ }}`` value and, inside what collects text (macros, call, set and filter
    blocks, recursive loops), every piece of text passes through here before Jinja2 turns
    it into text: its text is checked against ``max_output`` first, and what is collected
    counts as memory. (``pass_context`` keeps Jinja2 from running it at compile time.)"""
    current = _current()  # the deadline is the loops' and calls' to check
    if isinstance(value, str):
        size = len(value)
    elif isinstance(value, (int, float, bool, type(None))):
        size = 1
    else:
        size = text_size(value, current.sizes)
        _refuse_text(size, "showing this value")
    if buffered:
        _account(current, size)
    elif current.output + size > current.limits.max_output:  # said here: the line is known
        raise LimitExceeded(f"the output exceeds the limit of {current.limits.max_output} "
                            "characters")
    return value


@pass_eval_context
def _concat(eval_ctx: Any, values: list[Any]) -> str:
    """``a ~ b ~ c``: the text of the operands is measured before it is made."""
    _refuse_as_text(values, "'~'")
    if eval_ctx.autoescape or any(hasattr(v, "__html__") for v in values):
        return check_value(markup_join(values), built=True)
    return check_value("".join(map(str, values)), built=True)


def _built(value: Any) -> Any:
    """A list, tuple or dict literal: checked like any other value the template builds."""
    return check_value(value, built=True)


class _Guard(NodeTransformer):
    """Rewrites a parsed template so that the budget sees what Jinja2 would do inline."""

    def __init__(self, buffered: set[int]) -> None:
        self.buffered = buffered

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "occo_loop_guard", [], [], None, None,
                                 lineno=node.lineno)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        buffered = id(node) in self.buffered
        items = []
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                if not buffered:
                    items.append(child)
                    continue
                child = nodes.Const(child.data, lineno=child.lineno)
            items.append(nodes.Filter(child, "occo_emit", [nodes.Const(buffered)], [],
                                      None, None, lineno=child.lineno))
        node.nodes = items
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes, lineno=node.lineno), "occo_concat", [],
                            [], None, None, lineno=node.lineno)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, "occo_built", [], [], None, None, lineno=node.lineno)

    visit_List = visit_Dict = _literal

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        if node.ctx != "load":
            return node
        return self._literal(node)


class StrictestUndefined(StrictUndefined):
    """StrictUndefined that also fails when shown inside a container (``{{ [x] }}``),
    where Jinja2 would otherwise print ``[Undefined]``."""

    __slots__ = ()
    __repr__ = StrictUndefined._fail_with_undefined_error


class GuardedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with StrictUndefined, no loader, and the budget checks above."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})
    filters: dict[str, Callable[..., Any]]

    def __init__(self) -> None:
        super().__init__(undefined=StrictestUndefined, autoescape=False, loader=None,
                         keep_trailing_newline=True, cache_size=0)
        self.globals["range"] = guarded_range
        self.globals.pop("lipsum", None)
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        self.filters.update(occo_loop_guard=_loop_guard, occo_emit=_emit,
                            occo_concat=_concat, occo_built=_built)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            _mul_precheck(left, right)
        elif operator == "**":
            _pow_precheck(left, right)
        elif operator == "%" and isinstance(left, str):
            check_percent_format(left, right)
            _refuse_text(percent_size(left, right, _current().sizes), "'%' formatting")
        return check_value(super().call_binop(context, operator, left, right), built=True)

    def getattr(self, obj: Any, attribute: str) -> Any:
        return check_value(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return check_value(super().getitem(obj, argument))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt, is_map = value.__self__, value.__name__ == "format_map"

        @wraps(wrapper)
        def checked(*args: Any, **kwargs: Any) -> str:
            cache = _current().sizes
            if is_map and len(args) == 1 and isinstance(args[0], dict):
                check_brace_format(fmt, (), args[0])
                _refuse_text(brace_size(fmt, (), args[0], cache), "str.format_map()")
            else:
                check_brace_format(fmt, args, kwargs)
                _refuse_text(brace_size(fmt, args, kwargs, cache), "str.format()")
            return wrapper(*args, **kwargs)
        return checked

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name == "join" and args:
                args = (materialise(args[0]), *args[1:])
            _precheck_method(name, owner, args, kwargs)
        return check_value(super().call(__context, __obj, *args, **kwargs), built=True)

    def prepare(self, source: str) -> nodes.Template:
        """Parse ``source``, refuse file access, and route loops, output, ``~`` and literals
        through the budget (:class:`_Guard`)."""
        ast = self.parse(source)
        for kind, what in ((nodes.Include, "include"), (nodes.Import, "import"),
                           (nodes.FromImport, "import"), (nodes.Extends, "extends")):
            found = next(ast.find_all(kind), None)
            if found is not None:
                raise ForbiddenTemplate(f"'{what}' is not allowed in templates (template "
                                        f"line {found.lineno}): templates cannot read files "
                                        "or other templates")
        buffered: set[int] = set()
        for kind in (nodes.Macro, nodes.CallBlock, nodes.AssignBlock, nodes.FilterBlock,
                     nodes.For):
            for found_node in ast.find_all(kind):
                if kind is not nodes.For or found_node.recursive:
                    buffered.update(id(out) for out in found_node.find_all(nodes.Output))
        _Guard(buffered).visit(ast)
        return ast

