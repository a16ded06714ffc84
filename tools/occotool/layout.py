"""The canonical sibling layout: every package directory side by side under one folder.

The requirements_test.txt files say ``-e ../util``, and the wrappers call
``../tools/occo-tool``: both rely on that layout. ``link`` builds it from this checkout
with symbolic links; ``clone`` builds it from separate repositories ``BASE/<name>.git``.
"""

from __future__ import annotations

from pathlib import Path

from .envs import run
from .errors import ToolError
from .packages import Package

EXTRA = ("tools", "docs")


def names(packages: list[Package]) -> list[str]:
    return [p.directory for p in packages] + list(EXTRA)


def link(root: Path, packages: list[Package], target: Path) -> list[Path]:
    """Symlink every package (and tools/, docs/) of ``root`` into ``target``."""
    missing = [n for n in names(packages) if not (root / n).is_dir()]
    if missing:
        raise ToolError(f"cannot link: missing package directories under {root}: "
                        f"{', '.join(missing)}", 2)
    target.mkdir(parents=True, exist_ok=True)
    made = []
    for name in names(packages):
        source, dest = (root / name).resolve(), target / name
        if dest.is_symlink() and dest.resolve() == source:
            continue
        if dest.exists() or dest.is_symlink():
            raise ToolError(f"{dest} already exists and is not a link to {source}", 2)
        dest.symlink_to(source, target_is_directory=True)
        made.append(dest)
    return made


def clone(base: str, wanted: list[str], target: Path) -> list[Path]:
    """Clone ``BASE/<name>.git`` for every name into ``target``; check all exist first."""
    missing = []
    for name in wanted:
        url = f"{base.rstrip('/')}/{name}.git"
        try:
            run(["git", "ls-remote", "--heads", url], what=f"git ls-remote {url}")
        except ToolError:
            missing.append(url)
    if missing:
        raise ToolError("cannot clone: no repository at " + ", ".join(missing), 2)
    target.mkdir(parents=True, exist_ok=True)
    made = []
    for name in wanted:
        dest = target / name
        if dest.exists():
            raise ToolError(f"{dest} already exists", 2)
        run(["git", "clone", "-q", f"{base.rstrip('/')}/{name}.git", dest],
            what=f"cloning {name}")
        made.append(dest)
    return made
