"""The Pythons and platforms OCCO supports, defined once, and where to find each Python.

``SUPPORTED`` is what the README promises, what the wheelhouses serve and what the tests
run on. A Python is found on ``PATH`` as ``python3.X``, or among pyenv's versions
(``$PYENV_ROOT/versions/3.X.*``, ``~/.pyenv`` by default) when no ``python3.X`` on PATH
runs: a pyenv shim of a version that is not selected exits with an error, so every
candidate is asked for its version before it is used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import ToolError

#: CPython feature releases OCCO supports, oldest first.
SUPPORTED: tuple[str, ...] = ("3.11", "3.12", "3.13")

#: Platforms each wheelhouse serves (wheels with compiled parts), as pip's platform tags.
#: A platform is given by the manylinux tags its wheels may carry, newest first.
PLATFORMS: dict[str, tuple[str, ...]] = {
    "manylinux x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64",
                         "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"),
    "manylinux aarch64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64",
                          "manylinux2014_aarch64"),
}

_VERSION = re.compile(r"^3\.\d+$")


def version_of(python: str | Path) -> str | None:
    """``"3.X"`` of an interpreter, or ``None`` if it does not run."""
    try:
        proc = subprocess.run([str(python), "-c",
                               "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and _VERSION.match(out) else None


def _pyenv_candidates(version: str) -> list[Path]:
    base = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if not base.is_dir():
        return []
    found = [p / "bin" / f"python{version}" for p in base.iterdir()
             if re.fullmatch(re.escape(version) + r"\.\d+", p.name)]

    def release(path: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in path.parents[1].name.split("."))

    return sorted(found, key=release, reverse=True)


def find(version: str) -> Path | None:
    """An interpreter of CPython ``version`` ("3.X"), or ``None`` if this machine has none."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return Path(sys.executable)
    on_path = shutil.which(f"python{version}")
    candidates = ([Path(on_path)] if on_path else []) + _pyenv_candidates(version)
    for candidate in candidates:
        if candidate.is_file() and version_of(candidate) == version:
            return candidate
    return None


def require(version: str) -> Path:
    """Like :func:`find`, but a missing Python is an error naming where it was looked for."""
    if version not in SUPPORTED:
        raise ToolError(f"Python {version} is not supported (supported: "
                        f"{', '.join(SUPPORTED)})", 2)
    found = find(version)
    if found is None:
        raise ToolError(f"no Python {version} here: looked for python{version} on PATH and "
                        "under $PYENV_ROOT/versions (default ~/.pyenv)", 2)
    return found


def resolve(spec: str) -> tuple[Path, str]:
    """An interpreter given as "3.X" or as a command or path; (path, "3.X")."""
    if _VERSION.match(spec):
        return require(spec), spec
    path = shutil.which(spec) or spec
    version = version_of(path)
    if version is None:
        raise ToolError(f"{spec}: not a Python interpreter that runs", 2)
    if version not in SUPPORTED:
        raise ToolError(f"{spec} is Python {version}; supported: {', '.join(SUPPORTED)}", 2)
    return Path(path), version
