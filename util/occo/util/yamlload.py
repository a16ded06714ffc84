"""Safe YAML loading with Occopus's include tags and the located containers.

Files are read with a subclass of PyYAML's ``SafeLoader``: no Python object tags, ever.
Two tags are added for files read from disk (never for API input):

- ``!yaml_import {url: file://path.yaml}`` splices in another YAML document;
- ``!text_import {url: file://key.pem}`` splices in a file's text as a string.

Relative paths resolve against the directory of the file holding the tag, and a path
that leaves the tree of the top file's directory is rejected unless the caller allows it.
Mappings and sequences come back as :class:`~occo.util.located.LocatedDict` and
:class:`~occo.util.located.LocatedList`, so every value can be traced to its file and line.

Limits guard against hostile files: the size of each file (and of all included files
together), the nesting depth, and the size a document would have with its aliases
expanded (the "billion laughs" attack), as well as recursive aliases and include loops.
YAML timestamps are kept as the strings the user wrote, so loaded data is always JSON-able.
"""

from __future__ import annotations

import gc
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import (ForbiddenTagError, IncludeError, InputError, LimitExceededError,
                     Location, YAMLSyntaxError)
from .located import LocatedDict, LocatedList

__all__ = ["YamlLimits", "load_yaml_file", "load_yaml_text", "INCLUDE_TAGS"]

INCLUDE_TAGS = ("!yaml_import", "!text_import")
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """Bounds on what one load may read; the defaults fit any sane description."""

    max_file_bytes: int = 16 * 1024 * 1024
    max_total_bytes: int = 64 * 1024 * 1024
    max_depth: int = 100
    max_expanded_nodes: int = 5_000_000
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
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _NamedText(io.StringIO):
    """The text with a ``name``: both parsers take the marks' file name from it."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name


class _OccoLoader(_BaseLoader):
    """A safe loader that builds located containers and knows the include tags."""

    def __init__(self, text: str, source: str, context: _LoadContext) -> None:
        super().__init__(_NamedText(text, source))
        self.occo_context = context


def _check_depth(text: str, source: str, limit: int, loader: type = _BaseLoader) -> None:
    """Reject documents nested deeper than ``limit`` from the event stream, before any
    (recursive) composition can be attempted."""
    depth = 0
    for event in yaml.parse(_NamedText(text, source), Loader=loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > limit:
                raise LimitExceededError(f"document nested deeper than {limit} levels",
                                         location=_loc(event.start_mark))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _construct_mapping(loader: _OccoLoader, node: MappingNode):
    data = LocatedDict()
    data.location = _loc(node.start_mark)
    yield data
    own_keys = {id(key_node) for key_node, _ in node.value if key_node.tag != _MERGE_TAG}
    loader.flatten_mapping(node)
    set_by_own: set = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise InputError("a mapping key must be a scalar, got a collection",
                             location=_loc(key_node.start_mark)) from None
        if id(key_node) in own_keys:
            if key in set_by_own:
                raise InputError(f"duplicate key {key!r} in this mapping",
                                 location=_loc(key_node.start_mark))
            set_by_own.add(key)
        data[key] = loader.construct_object(value_node, deep=False)
        data.key_locations[key] = _loc(key_node.start_mark)
        data.value_locations[key] = _loc(value_node.start_mark)


def _construct_sequence(loader: _OccoLoader, node: SequenceNode):
    data = LocatedList()
    data.location = _loc(node.start_mark)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=False))
        data.item_locations.append(_loc(item.start_mark))


def _construct_timestamp(loader: _OccoLoader, node: ScalarNode) -> str:
    return loader.construct_scalar(node)


def _construct_forbidden(loader: _OccoLoader, node: Node) -> None:
    allowed = " and ".join(INCLUDE_TAGS)
    raise ForbiddenTagError(
        f"the YAML tag {node.tag!r} is not allowed; files are loaded safely "
        f"(only standard YAML and {allowed})",
        location=_loc(node.start_mark))


def _include_path(loader: _OccoLoader, node: Node) -> Path:
    ctx = loader.occo_context
    where = _loc(node.start_mark)
    if not ctx.allow_includes:
        raise ForbiddenTagError(f"{node.tag} is not accepted here: include tags work only "
                                "in files read from disk, never in API input", location=where)
    if not isinstance(node, MappingNode):
        raise IncludeError(f"{node.tag} expects a mapping {{url: file://...}}", location=where)
    spec = loader.construct_mapping(node, deep=True)
    url = spec.get("url")
    if not isinstance(url, str) or not url.startswith("file://"):
        raise IncludeError(f"{node.tag} needs url: file://<path>, got {url!r}", location=where)
    base = Path(node.start_mark.name).parent
    path = (base / url[len("file://"):]).resolve()
    if ctx.root is not None and not ctx.allow_outside and not path.is_relative_to(ctx.root):
        raise IncludeError(f"{node.tag} of {url!r} leaves the description's directory "
                           f"{ctx.root} (allow it in configuration if intended)", location=where)
    if not path.is_file():
        raise IncludeError(f"{node.tag}: file not found: {path}", location=where)
    return path


def _construct_yaml_import(loader: _OccoLoader, node: Node) -> Any:
    path = _include_path(loader, node)
    ctx = loader.occo_context
    where = _loc(node.start_mark)
    if path in ctx.stack:
        chain = " -> ".join(p.name for p in [*ctx.stack, path])
        raise IncludeError(f"include loop: {chain}", location=where)
    if len(ctx.stack) >= ctx.limits.max_include_depth:
        raise LimitExceededError(f"includes nested deeper than {ctx.limits.max_include_depth}",
                                 location=where)
    return _load_path(path, ctx, where)


def _construct_text_import(loader: _OccoLoader, node: Node) -> str:
    path = _include_path(loader, node)
    return _read_text(path, loader.occo_context, _loc(node.start_mark))


_OccoLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_OccoLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_OccoLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_OccoLoader.add_constructor("!yaml_import", _construct_yaml_import)
_OccoLoader.add_constructor("!text_import", _construct_text_import)
_OccoLoader.add_constructor(None, _construct_forbidden)


def _check_expansion(root: Node, limit: int) -> None:
    """Reject recursive aliases and documents whose alias expansion is too large."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise LimitExceededError("recursive alias: a node contains itself",
                                     location=_loc(node.start_mark))
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for item in node.value:
                total += size(item)
        elif isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node) + size(value_node)
        active.discard(key)
        if total > limit:
            raise LimitExceededError(
                f"document expands to more than {limit} values through its aliases",
                location=_loc(node.start_mark))
        sizes[key] = total
        return total

    size(root)


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
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text", location=where) from exc
    except OSError as exc:
        raise IncludeError(f"cannot read {path}: {exc.strerror}", location=where) from exc


def _load_path(path: Path, ctx: _LoadContext, where: Location | None) -> Any:
    text = _read_text(path, ctx, where)
    ctx.stack.append(path)
    try:
        return _parse(text, str(path), ctx)
    finally:
        ctx.stack.pop()


def _parse(text: str, source: str, ctx: _LoadContext) -> Any:
    loader = None
    collecting = gc.isenabled()
    gc.disable()  # a load makes millions of objects and no cycles worth collecting
    try:
        _check_depth(text, source, ctx.limits.max_depth)
        loader = _OccoLoader(text, source, ctx)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, ctx.limits.max_expanded_nodes)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        if _BaseLoader is not yaml.SafeLoader:
            _python_parser_error(text, source, ctx)  # its messages say more than libyaml's
        raise _syntax_error(exc, source) from None
    except yaml.YAMLError as exc:
        raise YAMLSyntaxError(f"invalid YAML: {exc}", location=Location(file=source)) from None
    except RecursionError:
        raise LimitExceededError("document is nested too deeply to load",
                                 location=Location(file=source)) from None
    finally:
        if collecting:
            gc.enable()
        if loader is not None:
            loader.dispose()


def _python_parser_error(text: str, source: str, ctx: _LoadContext) -> None:
    """Raise what the pure-Python parser says about text libyaml refused."""
    try:
        _check_depth(text, source, ctx.limits.max_depth, yaml.SafeLoader)
        yaml.SafeLoader(_NamedText(text, source)).get_single_node()
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
    top = Path(path).resolve()
    ctx = _LoadContext(root=Path(root).resolve() if root else top.parent, allow_includes=True,
                       allow_outside=allow_outside, limits=limits or YamlLimits())
    if not top.is_file():
        raise InputError(f"file not found: {path}", location=Location(file=str(path)))
    return _load_path(top, ctx, None)


def load_yaml_text(text: str, *, source: str = "<input>", limits: YamlLimits | None = None) -> Any:
    """Load YAML text that did not come from disk (API input): include tags are refused."""
    ctx = _LoadContext(root=None, allow_includes=False, allow_outside=False,
                       limits=limits or YamlLimits())
    if len(text.encode("utf-8")) > ctx.limits.max_file_bytes:
        raise LimitExceededError(f"input is larger than {ctx.limits.max_file_bytes} bytes",
                                 location=Location(file=source))
    return _parse(text, source, ctx)
