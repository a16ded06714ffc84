"""Safe YAML loading with Occopus's include tags and the located containers.

Files are read with PyYAML's parser (libyaml's when installed), its safe resolver and its
safe scalar constructors: no Python object tags, ever. Values are built straight from the
parser's events (no node graph is kept), so a load takes time and memory in proportion to
its bytes. Two tags are added for files read from disk (never for API input):

- ``!yaml_import {url: file://path.yaml}`` splices in another YAML document;
- ``!text_import {url: file://key.pem}`` splices in a file's text as a string.

Relative paths resolve against the directory of the file holding the tag, and a path
that leaves the tree of the top file's directory is rejected unless the caller allows it.
Mappings and sequences come back as :class:`~occo.util.located.LocatedDict` and
:class:`~occo.util.located.LocatedList`, so every value can be traced to its file and line.

Limits guard against hostile files. They bound the whole document, the top file and every
file it includes together, not each file on its own: the bytes read (each file, and all
reads together), the nesting depth (counted through the include tags), and the number of
values and the bytes of text the document would have with every alias and every include
expanded (the "billion laughs" attack, also when included files alias each other's
includes), as well as recursive aliases and include loops. Exceeding one is a
:class:`~occo.util.errors.LimitExceededError` naming the file and line where the budget ran
out.

YAML timestamps are kept as the strings the user wrote, so loaded data is always JSON-able.
"""

from __future__ import annotations

import gc
import io
import stat
from dataclasses import dataclass, field
from pathlib import Path
from types import GeneratorType
from typing import Any, NamedTuple

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import Node, ScalarNode

from .errors import (
    ForbiddenTagError,
    IncludeError,
    InputError,
    LimitExceededError,
    Location,
    YAMLSyntaxError,
)
from .located import LocatedDict, LocatedList, pack

__all__ = ["YamlLimits", "load_yaml_file", "load_yaml_text", "INCLUDE_TAGS"]

INCLUDE_TAGS = ("!yaml_import", "!text_import")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_VALUE_TAG = "tag:yaml.org,2002:value"   # the key ``=``, read as text as PyYAML does
_NO_KEY = object()   # a mapping waits for a key
_MERGE = object()    # the key ``<<``


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """Bounds on one load: the top file and all its includes together. The defaults are
    far beyond any real description (the largest known are some hundred KiB)."""

    max_file_bytes: int = 16 * 1024 * 1024      # one file
    max_total_bytes: int = 64 * 1024 * 1024     # every file read, each time it is read
    max_depth: int = 100                        # nesting, counted through includes
    max_expanded_nodes: int = 5_000_000         # values, aliases and includes expanded
    max_expanded_bytes: int = 256 * 1024 * 1024  # scalar text, aliases and includes expanded
    max_include_depth: int = 16


@dataclass(slots=True)
class _LoadContext:
    root: Path | None
    allow_includes: bool
    allow_outside: bool
    limits: YamlLimits
    stack: list[Path] = field(default_factory=list)
    total_bytes: int = 0


def _loc(mark: Any) -> Location:
    return Location(file=mark.name, line=mark.line + 1, column=mark.column + 1)


# libyaml's C parser when PyYAML has it (several times faster), else the pure-Python one;
# the constructors (and so the located containers and the tags allowed) are the same.
try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:
    from yaml import SafeLoader as _BaseLoader


class _NamedText(io.StringIO):
    """The text with a ``name``: both parsers take the marks' file name from it."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name


class _OccoLoader(_BaseLoader):
    """The parser (its events) and PyYAML's safe resolver and scalar constructors."""

    def __init__(self, text: str, source: str, context: _LoadContext) -> None:
        super().__init__(_NamedText(text, source))
        self.occo_context = context


def _construct_timestamp(loader: _OccoLoader, node: ScalarNode) -> str:
    return loader.construct_scalar(node)


def _construct_forbidden(loader: _OccoLoader, node: Node) -> None:
    raise ForbiddenTagError(_forbidden(node.tag), location=_loc(node.start_mark))


def _forbidden(tag: str) -> str:
    allowed = " and ".join(INCLUDE_TAGS)
    return (f"the YAML tag {tag!r} is not allowed; files are loaded safely "
            f"(only standard YAML and {allowed})")


def _scalar_constructor(kind: str, construct: Any) -> Any:
    """PyYAML's constructor of ``kind`` scalars, with Python's refusals (an integer of more
    than 4300 digits, ``!!int abc``, ``!!float x``, ``!!bool maybe``) as located errors
    instead of a ValueError or KeyError."""
    def scalar(loader: _OccoLoader, node: ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, KeyError) as exc:
            reason = str(exc).split(";")[0]
            raise YAMLSyntaxError(f"invalid YAML: not {kind}: {reason}",
                                  location=_loc(node.start_mark)) from None
    return scalar


_OccoLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
for _kind in ("int", "float", "bool"):
    _OccoLoader.add_constructor(f"tag:yaml.org,2002:{_kind}", _scalar_constructor(
        {"int": "an integer", "float": "a number", "bool": "a boolean"}[_kind],
        getattr(_BaseLoader, f"construct_yaml_{_kind}")))
_OccoLoader.add_constructor(None, _construct_forbidden)


def _too_deep(limit: int, outer: int) -> str:
    counted = " (counting the levels of the files that include it)" if outer else ""
    return f"document nested deeper than {limit} levels{counted}"


class _Extent(NamedTuple):
    """What a value amounts to with its aliases and includes expanded."""

    values: int   # scalars and collections
    text: int     # characters of scalar text
    height: int   # levels of collections, itself included


@dataclass(slots=True)
class _Open:
    """A mapping or sequence being built."""

    data: Any
    tag: str
    mark: Any
    anchor: str | None
    values: int          # the document's count when it opened
    text: int
    height: int = 0
    key: Any = _NO_KEY   # a mapping's key waiting for its value
    key_mark: Any = None
    merges: list | None = None


class _Builder:
    """Builds one file's document from the parser's events, without a node graph.

    Values become located containers as their events arrive; an alias is the anchored
    object itself. The builder counts what the document amounts to with every alias and
    include expanded (an alias or include adds the extent of what it stands for, in O(1)),
    and refuses, where it happens, to go beyond the limits: so the work and memory of a
    load are linear in its bytes, and the limits hold for the whole document, its
    included files counted at each place that includes or aliases them.
    """

    def __init__(self, loader: _OccoLoader, outer: int) -> None:
        self.loader = loader
        self.ctx: _LoadContext = loader.occo_context
        self.limits = self.ctx.limits
        self.outer = outer
        self.values = 0
        self.text = 0
        self.anchors: dict[str, tuple[Any, _Extent, Any]] = {}
        self.stack: list[_Open] = []

    def build(self) -> tuple[Any, _Extent]:
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None, _Extent(1, 0, 0)
        first = loader.get_event()  # document start
        value, extent, _ = self._document()
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            raise ComposerError("expected a single document in the stream", first.start_mark,
                                "but found another document", event.start_mark)
        return value, extent

    def _document(self) -> tuple[Any, _Extent, Any]:
        loader, stack = self.loader, self.stack
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                done = self._scalar(event)
            elif kind is yaml.AliasEvent:
                done = self._alias(event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                self._open(event, kind is yaml.MappingStartEvent)
                continue
            else:  # the end of a mapping or sequence
                done = self._close(stack.pop())
            if not stack:
                return done
            self._add(stack[-1], *done)

    # -- values ----------------------------------------------------------------------

    def _count(self, extent: _Extent, mark: Any) -> None:
        self.values += extent.values
        self.text += extent.text
        if self.values > self.limits.max_expanded_nodes:
            raise LimitExceededError(
                f"document expands to more than {self.limits.max_expanded_nodes} values "
                "through its aliases and includes", location=_loc(mark))
        if self.text > self.limits.max_expanded_bytes:
            raise LimitExceededError(
                f"document expands to more than {self.limits.max_expanded_bytes} bytes of "
                "text through its aliases and includes", location=_loc(mark))

    def _scalar(self, event: Any) -> tuple[Any, _Extent, Any]:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        if tag in INCLUDE_TAGS:
            self._include_path(tag, None, event.start_mark)  # says what is wrong
        extent = _Extent(1, len(event.value), 0)
        self._count(extent, event.start_mark)
        if tag == _STR_TAG or tag == _VALUE_TAG:
            value = event.value
        elif tag == _MERGE_TAG:
            value = _MERGE
        else:
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            constructor = self.loader.yaml_constructors.get(tag, _construct_forbidden)
            value = constructor(self.loader, node)
            if isinstance(value, GeneratorType):  # a collection's (``!!set x``): refuses
                steps, value = value, next(value)
                for _ in steps:
                    pass
        self._anchor(event.anchor, value, extent, event.start_mark)
        return value, extent, event.start_mark

    def _alias(self, event: Any) -> tuple[Any, _Extent, Any]:
        found = self.anchors.get(event.anchor)
        if found is None:
            if any(o.anchor == event.anchor for o in self.stack):
                raise LimitExceededError("recursive alias: a node contains itself",
                                         location=_loc(event.start_mark))
            raise ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                event.start_mark)
        value, extent, _ = found
        self._count(extent, event.start_mark)
        return value, extent, event.start_mark

    def _anchor(self, anchor: str | None, value: Any, extent: _Extent, mark: Any) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, extent, mark)

    # -- collections -----------------------------------------------------------------

    def _open(self, event: Any, mapping: bool) -> None:
        mark = event.start_mark
        if self.outer + len(self.stack) >= self.limits.max_depth:
            raise LimitExceededError(_too_deep(self.limits.max_depth, self.outer),
                                     location=_loc(mark))
        tag = event.tag
        if tag is None or tag == "!":
            tag = _MAP_TAG if mapping else _SEQ_TAG
        elif tag in INCLUDE_TAGS:
            if not mapping:
                self._include_path(tag, None, mark)
        elif tag != (_MAP_TAG if mapping else _SEQ_TAG):
            raise ForbiddenTagError(_forbidden(tag), location=_loc(mark))
        if event.anchor is not None and event.anchor in self.anchors:
            first = self.anchors[event.anchor][2]
            raise ComposerError(f"found duplicate anchor {event.anchor!r}; first occurrence",
                                first, "second occurrence", mark)
        data = LocatedDict() if mapping else LocatedList()
        data.place(mark.name, mark.line, mark.column)
        self._count(_Extent(1, 0, 0), mark)
        self.stack.append(_Open(data, tag, mark, event.anchor, self.values - 1, self.text))

    def _add(self, frame: _Open, value: Any, extent: _Extent, mark: Any) -> None:
        if self.outer + len(self.stack) + extent.height > self.limits.max_depth:
            raise LimitExceededError(_too_deep(self.limits.max_depth, self.outer),
                                     location=_loc(frame.mark))  # an alias used deeper
        frame.height = max(frame.height, extent.height)
        data = frame.data
        at = pack(mark.line, mark.column)
        if value is _MERGE and (frame.key is not _NO_KEY or isinstance(data, LocatedList)):
            raise ForbiddenTagError(_forbidden(_MERGE_TAG), location=_loc(mark))
        if isinstance(data, LocatedList):
            data.append(value)
            data.place_item(at)
        elif frame.key is _NO_KEY:
            try:
                hash(value)
            except TypeError:
                raise InputError("a mapping key must be a scalar, got a collection",
                                 location=_loc(mark)) from None
            if value in data:
                raise InputError(f"duplicate key {value!r} in this mapping",
                                 location=_loc(mark))
            frame.key, frame.key_mark = value, mark
        else:
            key, key_mark = frame.key, frame.key_mark
            frame.key = _NO_KEY
            if key is _MERGE:
                self._merge(frame, value, mark)
                return
            data[key] = value
            data.place_key(key, pack(key_mark.line, key_mark.column), at)

    def _merge(self, frame: _Open, value: Any, mark: Any) -> None:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, LocatedDict):
                raise ConstructorError("while constructing a mapping", frame.mark,
                                       "expected a mapping or list of mappings for merging",
                                       mark)
        # YAML's merge: the first of a list wins, a later << over an earlier one
        frame.merges = (frame.merges or []) + list(reversed(sources))

    def _close(self, frame: _Open) -> tuple[Any, _Extent, Any]:
        data = frame.data
        if frame.merges:
            data.merge_under(frame.merges)
        extent = _Extent(self.values - frame.values, self.text - frame.text, frame.height + 1)
        if frame.tag in INCLUDE_TAGS:
            self.values, self.text = frame.values, frame.text  # the spec is not the value
            data, extent = self._include(frame.tag, data, frame.mark)
            self._count(extent, frame.mark)
        self._anchor(frame.anchor, data, extent, frame.mark)
        return data, extent, frame.mark

    # -- includes --------------------------------------------------------------------

    def _include_path(self, tag: str, spec: Any, mark: Any) -> Path:
        ctx = self.ctx
        where = _loc(mark)
        if not ctx.allow_includes:
            raise ForbiddenTagError(f"{tag} is not accepted here: include tags work only "
                                    "in files read from disk, never in API input",
                                    location=where)
        if not isinstance(spec, dict):
            raise IncludeError(f"{tag} expects a mapping {{url: file://...}}", location=where)
        url = spec.get("url")
        if not isinstance(url, str) or not url.startswith("file://"):
            raise IncludeError(f"{tag} needs url: file://<path>, got {url!r}", location=where)
        if "\x00" in url:
            raise IncludeError(f"{tag}: {_NUL_IN_NAME}: {_shown(url)}", location=where)
        path = (Path(mark.name).parent / url[len("file://"):]).resolve()
        if ctx.root is not None and not ctx.allow_outside and not path.is_relative_to(ctx.root):
            raise IncludeError(f"{tag} of {url!r} leaves the description's directory "
                               f"{ctx.root} (allow it in configuration if intended)",
                               location=where)
        if not _is_file(path):
            raise IncludeError(f"{tag}: {_not_a_file(path)}: {path}", location=where)
        return path

    def _include(self, tag: str, spec: Any, mark: Any) -> tuple[Any, _Extent]:
        path = self._include_path(tag, spec, mark)
        ctx, where = self.ctx, _loc(mark)
        if tag == "!text_import":
            text = _read_text(path, ctx, where)
            return text, _Extent(1, len(text), 0)
        if path in ctx.stack:
            chain = " -> ".join(p.name for p in [*ctx.stack, path])
            raise IncludeError(f"include loop: {chain}", location=where)
        if len(ctx.stack) >= self.limits.max_include_depth:
            raise LimitExceededError(f"includes nested deeper than "
                                     f"{self.limits.max_include_depth}", location=where)
        return _load_path(path, ctx, where, self.outer + len(self.stack))


def _read_text(path: Path, ctx: _LoadContext, where: Location | None) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IncludeError(f"cannot read {path}: {exc.strerror}", location=where) from exc
    if size > ctx.limits.max_file_bytes:
        raise LimitExceededError(f"{path} is {size} bytes; the limit is "
                                 f"{ctx.limits.max_file_bytes}", location=where)
    ctx.total_bytes += size
    if ctx.total_bytes > ctx.limits.max_total_bytes:
        raise LimitExceededError(f"files read for this description exceed "
                                 f"{ctx.limits.max_total_bytes} bytes", location=where)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IncludeError(f"cannot read {path}: {exc.strerror}", location=where) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"not UTF-8 text: byte {exc.start} (line {line}, byte {column} of "
                         f"the line) is 0x{data[exc.start]:02x}; save the file as UTF-8",
                         location=Location(file=str(path), line=line, column=column)) \
            from None


_NUL_IN_NAME = "a file name cannot contain a NUL character (shown as \\x00)"


def _shown(name: str) -> str:
    return name.replace("\x00", "\\x00")


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False (not an OSError) for a name too long for the system."""
    try:
        return path.is_file()
    except OSError:
        return False


def _not_a_file(path: Path) -> str:
    """Why ``path`` cannot be read as a file: missing, or what it is instead."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return f"not a regular file: it is {what}"
    return "not a regular file"


def _load_path(path: Path, ctx: _LoadContext, where: Location | None,
               outer: int = 0) -> tuple[Any, _Extent]:
    text = _read_text(path, ctx, where)
    ctx.stack.append(path)
    try:
        return _parse(text, str(path), ctx, outer)
    finally:
        ctx.stack.pop()


def _parse(text: str, source: str, ctx: _LoadContext, outer: int = 0) -> tuple[Any, _Extent]:
    """The document of ``text`` and its extent; ``outer``: the nesting levels of the
    files that include it."""
    loader = None
    collecting = gc.isenabled()
    gc.disable()  # a load makes millions of objects and no cycles worth collecting
    try:
        loader = _OccoLoader(text, source, ctx)
        return _Builder(loader, outer).build()
    except yaml.MarkedYAMLError as exc:
        if _BaseLoader is not yaml.SafeLoader:
            _python_parser_error(text, source, ctx, outer)  # says more than libyaml
        raise _syntax_error(exc, source) from None
    except yaml.YAMLError as exc:
        raise YAMLSyntaxError(f"invalid YAML: {exc}", location=Location(file=source)) from None
    finally:
        if collecting:
            gc.enable()
        if loader is not None:
            loader.dispose()


def _python_parser_error(text: str, source: str, ctx: _LoadContext, outer: int) -> None:
    """Raise what the pure-Python parser says about text libyaml refused (its events
    only, so nothing recurses): libyaml stops at 1,000 levels of nesting with a message
    that names no limit, so the depth is counted here too."""
    depth, limit = outer, ctx.limits.max_depth
    try:
        for event in yaml.parse(_NamedText(text, source), Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > limit:
                    raise LimitExceededError(_too_deep(limit, outer),
                                             location=_loc(event.start_mark))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, source) from None


def _syntax_error(exc: yaml.MarkedYAMLError, source: str) -> YAMLSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or str(exc)
    if exc.context and exc.problem:
        problem = f"{exc.context}, {exc.problem}"
    return YAMLSyntaxError(f"invalid YAML: {problem}",
                           location=_loc(mark) if mark else Location(file=source))


def load_yaml_file(path: str | Path, *, root: str | Path | None = None,
                   allow_outside: bool = False, limits: YamlLimits | None = None) -> Any:
    """Load one YAML file from disk, with include tags confined to ``root``.

    ``root`` defaults to the file's own directory. Raises an :class:`InputError`
    subclass naming the file, line and column for every problem.
    """
    if "\x00" in str(path):
        raise InputError(_NUL_IN_NAME, location=Location(file=_shown(str(path))))
    top = Path(path).resolve()
    ctx = _LoadContext(root=Path(root).resolve() if root else top.parent, allow_includes=True,
                       allow_outside=allow_outside, limits=limits or YamlLimits())
    if not _is_file(top):
        raise InputError(f"{_not_a_file(top)}: {path}", location=Location(file=str(path)))
    return _load_path(top, ctx, None)[0]


def load_yaml_text(text: str, *, source: str = "<input>", limits: YamlLimits | None = None) -> Any:
    """Load YAML text that did not come from disk (API input): include tags are refused."""
    ctx = _LoadContext(root=None, allow_includes=False, allow_outside=False,
                       limits=limits or YamlLimits())
    if len(text.encode("utf-8")) > ctx.limits.max_file_bytes:
        raise LimitExceededError(f"input is larger than {ctx.limits.max_file_bytes} bytes",
                                 location=Location(file=source))
    return _parse(text, source, ctx)[0]
