"""The Jinja2 environment templates run in: sandboxed, strict, and bounded in time and size.

Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` already refuses access to
Python internals (``''.__class__``, ``cycler.__init__.__globals__``) and the modification
of the shared lists and dicts templates receive. On top of it this module bounds what
one render may cost, because the templates come from users:

- **time**: a deadline is checked wherever the sandbox sees the template work: every
  function or method call (macros included), attribute and item access, filter, loop
  iteration (each ``{% for %}``'s iterable is wrapped at compile time) and output chunk;
- **size**: operations that could build a huge value in one step are checked *before*
  they run (``'x' * n``, ``2 ** n``, ``'%09999999d' % 1``, ``'{:>99999999}'.format``,
  ``str.center`` and friends, ``replace``, ``join``, ``range``), and values and outputs
  are checked after;
- **files**: there is no loader, and ``include``/``import``/``extend`` are refused when
  the template is compiled, with a message that says so.

Limits are per render (one section of one instance) and live in a thread-local budget,
so renders in different threads do not share them.
"""

from __future__ import annotations

import re
import string
import threading
import time
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, Iterable, Iterator

from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["RenderLimits", "LimitExceeded", "ForbiddenTemplate", "GuardedEnvironment",
           "budget", "check_value"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderLimits:
    """Bounds on one render.

    ``max_seconds``: wall time of one section's render; ``max_output``: characters of
    one rendered section (and of any string built while rendering); ``max_items``:
    length of any list, mapping or range built while rendering; ``max_int_bits``: size
    of any integer computed; ``max_built``: characters and items of all the values one
    render builds together (its memory).
    """

    max_seconds: float = 2.0
    max_output: int = 1_000_000
    max_items: int = 100_000
    max_int_bits: int = 65_536
    max_built: int = 20_000_000


class LimitExceeded(Exception):
    """A render went over one of its :class:`RenderLimits`."""


class ForbiddenTemplate(Exception):
    """A template uses a construct OCCO does not allow (include, import, extends)."""


class _Budget:
    __slots__ = ("deadline", "limits", "output", "built")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.output = 0
        self.built = 0  # characters and items of all values built (memory, not output)


_state = threading.local()


class budget:
    """Context manager: the limits of the render(s) run inside it, in this thread."""

    __slots__ = ("_budget", "_previous")

    def __init__(self, limits: RenderLimits) -> None:
        self._budget = _Budget(limits)
        self._previous: _Budget | None = None

    def __enter__(self) -> _Budget:
        self._previous = getattr(_state, "budget", None)
        _state.budget = self._budget
        return self._budget

    def __exit__(self, *exc: object) -> None:
        _state.budget = self._previous


_DEFAULT = RenderLimits()
_FORMATTER = string.Formatter()


def _current() -> _Budget:
    current = getattr(_state, "budget", None)
    if current is None:  # used outside a render: the default sizes, no running clock
        return _Budget(_DEFAULT)
    return current


def _tick() -> _Budget:
    current = _current()
    if time.monotonic() > current.deadline:
        raise LimitExceeded(f"the render took longer than {current.limits.max_seconds:g} s "
                            "(a loop that does not end?)")
    return current


def check_value(value: Any, *, built: bool = False) -> Any:
    """``value`` if it is within the current limits, else :class:`LimitExceeded`.

    ``built``: the value was just made by the template (a call, filter or operator), so
    its size counts towards the render's memory (``max_built``).
    """
    current = _tick()
    limits = current.limits
    if isinstance(value, (str, bytes)):
        if len(value) > limits.max_output:
            raise LimitExceeded(f"a value of {len(value)} characters was built; the limit "
                                f"is {limits.max_output}")
        if built:
            _account(current, len(value))
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        if len(value) > limits.max_items:
            raise LimitExceeded(f"a collection of {len(value)} items was built; the limit "
                                f"is {limits.max_items}")
        if built:
            _account(current, len(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > limits.max_int_bits:
            raise LimitExceeded(f"an integer of {value.bit_length()} bits was computed; the "
                                f"limit is {limits.max_int_bits}")
    return value


def _account(current: _Budget, size: int) -> None:
    current.built += size
    if current.built > current.limits.max_built:
        raise LimitExceeded(f"the render built more than {current.limits.max_built} "
                            "characters and items in all; the limit is there to bound memory")


def count_output(text: str) -> None:
    """Account ``text`` as output of the current render."""
    current = _tick()
    current.output += len(text)
    if current.output > current.limits.max_output:
        raise LimitExceeded(f"the output exceeds the limit of {current.limits.max_output} "
                            "characters")


def _refuse_size(size: int, what: str) -> None:
    limits = _current().limits
    if size > limits.max_output:
        raise LimitExceeded(f"{what} would build a value of about {size} characters; the "
                            f"limit is {limits.max_output}")


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


def _precheck_replace(text: str, old: str, new: str, count: Any) -> None:
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _refuse_size(len(text) + hits * max(0, len(new) - len(old)), "replace()")


def _precheck_join(separator: Any, items: Any) -> None:
    if isinstance(items, (list, tuple)):
        total = sum(len(x) if isinstance(x, str) else 20 for x in items)
        total += len(str(separator)) * max(0, len(items) - 1)
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
    elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
        _precheck_replace(value, str(rest[0]), str(rest[1]),
                          rest[2] if len(rest) > 2 else kwargs.get("count"))
    elif name == "join":
        _precheck_join(rest[0] if rest else kwargs.get("d", ""), value)


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
        if left.bit_length() + right.bit_length() > _current().limits.max_int_bits:
            raise LimitExceeded("the product of these integers is too large")


def _pow_precheck(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
            and abs(base) > 1:
        if base.bit_length() * exponent > _current().limits.max_int_bits:
            raise LimitExceeded(f"{base} ** {exponent} is too large to compute")


class StrictestUndefined(StrictUndefined):
    """StrictUndefined that also fails when shown inside a container (``{{ [x] }}``),
    where Jinja2 would otherwise print ``[Undefined]``."""

    __slots__ = ()
    __repr__ = StrictUndefined._fail_with_undefined_error


class GuardedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with StrictUndefined, no loader, and the budget checks above."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictestUndefined, autoescape=False, loader=None,
                         keep_trailing_newline=True, cache_size=0)
        self.globals["range"] = guarded_range
        self.globals.pop("lipsum", None)
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        self.filters["occo_loop_guard"] = _loop_guard

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            _mul_precheck(left, right)
        elif operator == "**":
            _pow_precheck(left, right)
        elif operator == "%" and isinstance(left, str):
            check_percent_format(left, right)
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
            if is_map and len(args) == 1 and isinstance(args[0], dict):
                check_brace_format(fmt, (), args[0])
            else:
                check_brace_format(fmt, args, kwargs)
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
        """Parse ``source``, refuse file access, and wrap every loop in the guard."""
        ast = self.parse(source)
        for kind, what in ((nodes.Include, "include"), (nodes.Import, "import"),
                           (nodes.FromImport, "import"), (nodes.Extends, "extends")):
            found = next(ast.find_all(kind), None)
            if found is not None:
                raise ForbiddenTemplate(f"'{what}' is not allowed in templates (template "
                                        f"line {found.lineno}): templates cannot read files "
                                        "or other templates")
        for loop in ast.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "occo_loop_guard", [], [], None, None,
                                     lineno=loop.lineno)
        return ast

