"""The check that the tree names no absolute path of a machine and reaches nothing
outside the repository (run by ``occo-tool test`` before any test, and on its own as
``occo-tool check-paths``).

What counts as a path of a machine, looked for in every file git tracks (or would track):

- the checkout's own absolute path, and its parent directory followed by ``/`` (where
  the checkout lies beside other things: ``<parent>/`` for ``<parent>/main``);
- the home directory followed by a name that exists in it on this machine (pyenv's
  directory in the home, say; a ``start.sh`` in the home of a container image is no path
  of this machine and passes);
- ``/home/<name>/`` and ``/Users/<name>/``, anyone's home on another machine;
- in Python files, the fixtures directory beside the checkout that holds shared material
  (reached as a relative path or by joining its parts): the optional Occopus tutorials are
  found through ``OCCO_TUTORIALS``, never by position.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

_OTHER_HOMES = re.compile(r"(?<![\w.~-])/(?:home|Users)/[A-Za-z0-9._-]+/")
_BESIDE = re.compile(r"""\.\./shared/fixtures\b|["']shared["']\s*/\s*["']fixtures["']""")
_SKIP_PARTS = {".git", "env", "wheelhouse", "node_modules", "_build", "__pycache__"}


def tracked_files(root: Path) -> list[Path]:
    """Files git tracks or would track (untracked, not ignored); every file without git."""
    try:
        proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                               "--exclude-standard"], cwd=root, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is not None and proc.returncode == 0:
        names = [n for n in proc.stdout.decode("utf-8", "replace").split("\0") if n]
        return [root / n for n in names if (root / n).is_file()]
    return [p for p in root.rglob("*")
            if p.is_file() and not _SKIP_PARTS.intersection(p.relative_to(root).parts)]


def _machine_patterns(root: Path) -> list[re.Pattern[str]]:
    root = root.resolve()
    patterns = [re.compile(re.escape(str(root)) + r"(?![\w.-])")]
    if root.parent != Path(root.anchor):
        patterns.append(re.compile(r"(?<![\w.~-])" + re.escape(str(root.parent)) + "/"))
    home = Path.home()
    if home.is_dir() and home != Path(home.anchor):
        try:
            names = sorted(os.listdir(home), key=len, reverse=True)
        except OSError:
            names = []
        if names:
            alternatives = "|".join(re.escape(n) for n in names)
            patterns.append(re.compile(r"(?<![\w.~-])" + re.escape(str(home))
                                       + r"/(?:" + alternatives + r")(?![\w.-])"))
    patterns.append(_OTHER_HOMES)
    return patterns


def find_machine_paths(root: Path, files: list[Path] | None = None) -> list[str]:
    """``file:line: text`` for every absolute path of a machine under ``root``."""
    patterns = _machine_patterns(root)
    found: list[str] = []
    for path in files if files is not None else tracked_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files hold no paths worth reporting
        is_python = path.suffix == ".py"
        for number, line in enumerate(text.splitlines(), 1):
            hit = next((m for p in patterns if (m := p.search(line))), None)
            if hit is None and is_python:
                hit = _BESIDE.search(line)
            if hit is not None:
                found.append(f"{path.relative_to(root)}:{number}: {hit.group(0)!r} "
                             f"in {line.strip()[:120]!r}")
    return found
