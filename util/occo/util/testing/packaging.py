"""The packaging checks every OCCO package's tests run on its installed distribution.

:func:`packaging_problems` returns what is wrong, as sentences (an empty list when nothing
is). It reads the distribution's metadata and parses (never imports) every module of the
package, and checks:

- the version in the metadata is the package's ``__version__``; ``occo`` is a namespace;
- every entry point group its setup.py declares is one of OCCO's plugin groups
  (``occo.util.plugins.PLUGIN_GROUPS``) or ``console_scripts``;
- ``__all__`` of the top package names exactly its public names (a name a module
  ``__getattr__`` provides lazily may be listed without being bound yet);
- every distribution the code imports is declared in ``install_requires``, and every one
  declared is imported somewhere (a stale dependency fails), but for those the caller
  names with the reason they are needed without an import;
- another OCCO package is used only through its public surface: imports from its top
  package or from a public subpackage (a package directory of its own, such as
  ``occo.util.comm``), and only of names in that module's ``__all__``; never from one of
  its plain modules (``occo.util.errors``), which are internal to it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata as md
import importlib.util
import re
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..plugins import PLUGIN_GROUPS

__all__ = ["packaging_problems"]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class _Import:
    module: str          # the absolute module name imported from
    names: tuple[str, ...]   # the names taken from it ("from m import a, b"); () for "import m"
    where: str           # file:line


def _is_module(path: Path, root: Path) -> bool:
    """Whether ``path`` is importable code of the package: every part of its name an
    identifier. A script shipped as data (``fake-neutron-agent.py``, run by another
    interpreter with its own dependencies) is not."""
    return all(part.isidentifier() for part in path.relative_to(root).with_suffix("").parts)


def _imports(root: Path, package: str) -> Iterator[_Import]:
    for path in sorted(p for p in root.rglob("*.py") if _is_module(p, root)):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        relative = path.relative_to(root.parent.parent)
        for node in ast.walk(tree):
            where = f"{relative}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield _Import(alias.name, (), where)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield _Import(node.module, tuple(a.name for a in node.names), where)


def _declared(dist: str) -> set[str]:
    names = set()
    for requirement in md.requires(dist) or ():
        if "extra ==" in requirement:
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if match:
            names.add(_normal(match.group(1)))
    return names


def _occo_dist(module: str) -> str:
    """The distribution of ``occo.<name>...``: occo-<name> (the monorepo's convention)."""
    return f"occo-{module.split('.')[1]}"


def _public_module(module: str) -> bool:
    """Whether another package may import from ``module`` (occo.<pkg>[.<sub>...])."""
    parts = module.split(".")
    if len(parts) == 2:
        return True
    if any(p.startswith("_") for p in parts):
        return False
    spec = importlib.util.find_spec(module)
    return bool(spec and spec.submodule_search_locations)   # a package, not a plain module


def packaging_problems(dist: str, *, needed_without_import: Mapping[str, str] | None = None
                       ) -> list[str]:
    """What is wrong with the installed distribution ``dist`` (say ``"occo-compiler"``)."""
    problems: list[str] = []
    name = f"occo.{dist.removeprefix('occo-')}"
    top = importlib.import_module(name)
    root = Path(top.__file__ or "").parent
    import occo
    if getattr(occo, "__file__", None) is not None:
        problems.append(f"occo is not a namespace package ({occo.__file__})")
    if md.version(dist) != getattr(top, "__version__", None):
        problems.append(f"{dist} {md.version(dist)} is installed but {name}.__version__ is "
                        f"{getattr(top, '__version__', None)!r}")
    problems += _surface(top)
    for group in sorted({ep.group for ep in md.distribution(dist).entry_points}):
        if group not in PLUGIN_GROUPS and group != "console_scripts":
            problems.append(f"{dist} declares entry points in {group!r}, which is not one of "
                            f"OCCO's plugin groups ({', '.join(PLUGIN_GROUPS)})")

    by_import = {k: [_normal(d) for d in v] for k, v in md.packages_distributions().items()}
    declared = _declared(dist)
    used: set[str] = set()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for imp in _imports(root, name):
        first = imp.module.split(".")[0]
        if first in stdlib:
            continue
        if first == "occo":
            if imp.module == "occo" or imp.module.split(".")[1] == name.split(".")[1]:
                continue
            other = _occo_dist(imp.module)
            used.add(other)
            problems += _cross_package(imp)
            if other not in declared:
                problems.append(f"{imp.where}: imports {imp.module}, but {dist} does not "
                                f"declare {other}")
            continue
        dists = by_import.get(first)
        if not dists:
            problems.append(f"{imp.where}: imports {first}, which no installed distribution "
                            f"provides")
            continue
        used.update(dists)
        if not declared.intersection(dists):
            problems.append(f"{imp.where}: imports {first} (from {', '.join(sorted(dists))}), "
                            f"which {dist} does not declare")
    excused = {_normal(k) for k in (needed_without_import or {})}
    for stale in sorted(declared - used - excused):
        problems.append(f"{dist} declares {stale}, which its code never imports")
    return problems


def _surface(top: types.ModuleType) -> list[str]:
    exported = set(getattr(top, "__all__", ()))
    problems = []
    for missing in sorted(n for n in exported if not hasattr(top, n)):
        problems.append(f"{top.__name__}.__all__ names {missing}, which it does not have")
    # a name imported from outside the package for its own use (typing's Any, a helper
    # function of the standard library) is not part of its surface
    public = {n for n, v in vars(top).items()
              if not n.startswith("_") and n != "annotations"
              and not isinstance(v, types.ModuleType)
              and getattr(v, "__module__", top.__name__).startswith(top.__name__)}
    for unlisted in sorted(public - exported):
        problems.append(f"{top.__name__}.{unlisted} is public but not in __all__")
    return problems


def _cross_package(imp: _Import) -> list[str]:
    if not _public_module(imp.module):
        return [f"{imp.where}: imports from {imp.module}, a module internal to "
                f"{_occo_dist(imp.module)} (use its top package or a public subpackage)"]
    if not imp.names:
        return []
    module = importlib.import_module(imp.module)
    exported = set(getattr(module, "__all__", ()))
    return [f"{imp.where}: imports {n} from {imp.module}, which is not in its __all__"
            for n in imp.names if n not in exported
            and not isinstance(getattr(module, n, None), types.ModuleType)]
