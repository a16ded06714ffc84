"""The ``files`` of a local resource: relative paths inside the node's working directory
mapped to text (or ``{content, mode}``). Checked by the schema, so ``occo validate``
refuses what the backend could not write, and again by the backend before it writes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from occo.util import is_template

__all__ = ["files_problem", "file_mode", "MAX_NAME_BYTES", "MAX_PATH_BYTES"]

MAX_NAME_BYTES = 255     # one path component, as Linux file systems take
MAX_PATH_BYTES = 4096    # the whole relative path
_ENTRY_KEYS = ("content", "mode")


def file_mode(mode: Any) -> int | None:
    """A mode given as an int or an octal string ("0755"), if it is one in 0..0o7777."""
    if isinstance(mode, bool):
        return None
    if isinstance(mode, str):
        text = mode.strip()
        if not text or not all(c in "01234567" for c in text):
            return None
        mode = int(text, 8)
    return mode if isinstance(mode, int) and 0 <= mode <= 0o7777 else None


def _name_problem(name: Any) -> str | None:
    if not isinstance(name, str):
        return f"a file name must be text, got {name!r}"
    if "\0" in name:
        return f"file {name!r}: a name cannot hold a NUL character"
    path = PurePosixPath(name)
    if not name or not path.parts or path.parts in ((".",),) or name.endswith("/"):
        return f"file {name!r}: give the path of a file, not a directory"
    if path.is_absolute() or ".." in path.parts:
        return f"file {name!r}: a file must be a relative path inside the working directory"
    if len(name.encode("utf-8")) > MAX_PATH_BYTES or \
            any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in path.parts):
        return (f"file {name[:40]!r}...: a path is at most {MAX_PATH_BYTES} bytes and each "
                f"name in it at most {MAX_NAME_BYTES}")
    return None


def files_problem(files: Any) -> str | None:
    """Why ``files`` cannot be written, or None (templated entries are checked once
    rendered, by the backend)."""
    if not isinstance(files, Mapping):
        return None   # the schema's kind check says so
    for name, body in files.items():
        if is_template(name):
            continue
        problem = _name_problem(name)
        if problem:
            return problem
        if isinstance(body, Mapping):
            unknown = sorted(str(k) for k in body if k not in _ENTRY_KEYS)
            if unknown:
                return (f"file {name!r}: unknown key {unknown[0]!r}; an entry takes content "
                        "and mode")
            mode = body.get("mode")
            if mode is not None and not is_template(mode) and file_mode(mode) is None:
                return (f"file {name!r}: mode must be an octal mode from 0 to 7777 such as "
                        f"0644 (or its number), got {mode!r}")
            body = body.get("content")
        if not isinstance(body, str):
            return f"file {name!r} must be text (or {{content: text, mode: 0644}})"
    return None
