"""The packages of the monorepo, read from their own declarations, and their build order.

Nothing here is a hand-kept list: a package is a directory beside ``tools/`` holding a
``setup.py`` whose ``setup(name=..., install_requires=[...])`` is read with ``ast`` (the
file is never executed), and the order comes from ``graphlib`` over the ``occo-*`` names
each package declares.

A package may also name OCCO packages in its ``test`` extra (``extras_require={"test":
["occo-compiler", ...]}``): its tests use them (the processor's tests build their
descriptions with the compiler) but its code does not. They order the build as runtime
dependencies do (a cycle through them is refused) and their closure is in
requirements_test.txt, never in requirements.txt or the wheel's metadata.
"""

from __future__ import annotations

import ast
import graphlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolError

NON_PACKAGES = {"env", "tools", "docs", ".git", ".ci"}
_VERSION = re.compile(r'^__version__\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Package:
    """One distribution of the monorepo."""

    directory: str          # info-broker
    path: Path
    dist: str               # occo-infobroker
    module: str             # infobroker  (occo.infobroker)
    version: str
    requires: tuple[str, ...]    # abstract requirements, as declared
    occo_deps: tuple[str, ...]   # the occo-* distributions among them
    test_occo_deps: tuple[str, ...] = ()   # the occo-* distributions of the test extra

    @property
    def version_file(self) -> Path:
        return self.path / "occo" / self.module / "version.py"

    @property
    def wheelhouse(self) -> Path:
        return self.path / "wheelhouse"


def _literal(node: ast.AST, what: str, setup_py: Path):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ToolError(f"{setup_py}: {what} must be a literal so tools can read it "
                        "without running setup.py", 2) from None


def read_package(path: Path) -> Package:
    """Read one package directory's declarations."""
    setup_py = path / "setup.py"
    tree = ast.parse(setup_py.read_text(encoding="utf-8"), str(setup_py))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "id", getattr(n.func, "attr", None)) == "setup"]
    if len(calls) != 1:
        raise ToolError(f"{setup_py}: expected exactly one setup(...) call", 2)
    kwargs = {kw.arg: kw.value for kw in calls[0].keywords}
    if "name" not in kwargs:
        raise ToolError(f"{setup_py}: setup() has no name=", 2)
    dist = _literal(kwargs["name"], "name", setup_py)
    requires = tuple(_literal(kwargs["install_requires"], "install_requires", setup_py)
                     if "install_requires" in kwargs else ())
    modules = [p.name for p in (path / "occo").iterdir() if p.is_dir()] \
        if (path / "occo").is_dir() else []
    if len(modules) != 1:
        raise ToolError(f"{path}: expected one package directory under occo/, "
                        f"found {sorted(modules) or 'none'}", 2)
    version_file = path / "occo" / modules[0] / "version.py"
    found = _VERSION.search(version_file.read_text(encoding="utf-8")) \
        if version_file.is_file() else None
    if not found:
        raise ToolError(f"{version_file}: no __version__ = \"X.Y.Z\"", 2)
    extras = _literal(kwargs["extras_require"], "extras_require", setup_py) \
        if "extras_require" in kwargs else {}
    return Package(path.name, path, dist, modules[0], found.group(1), requires,
                   _occo_names(requires), _occo_names(extras.get("test") or ()))


def _occo_names(requirements) -> tuple[str, ...]:
    names = [m.group(0) for r in requirements if (m := _NAME.match(r))]
    return tuple(n for n in names if n.startswith("occo-"))


def discover(root: Path) -> dict[str, Package]:
    """Every package under ``root``, keyed by distribution name."""
    found: dict[str, Package] = {}
    for child in sorted(root.iterdir()):
        if child.name in NON_PACKAGES or not (child / "setup.py").is_file():
            continue
        pkg = read_package(child)
        if pkg.dist in found:
            raise ToolError(f"{pkg.dist} is declared by both {found[pkg.dist].path} "
                            f"and {child}", 2)
        found[pkg.dist] = pkg
    if not found:
        raise ToolError(f"no packages (directories with setup.py) under {root}", 2)
    return found


def build_order(packages: dict[str, Package]) -> list[Package]:
    """Packages in dependency order; ties broken by name so the order is stable."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for pkg in packages.values():
        for dep in (*pkg.occo_deps, *pkg.test_occo_deps):
            if dep not in packages:
                raise ToolError(f"{pkg.dist} ({pkg.path / 'setup.py'}) depends on {dep}, "
                                "which no package directory declares", 2)
        sorter.add(pkg.dist, *pkg.occo_deps, *pkg.test_occo_deps)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        raise ToolError("dependency cycle between packages: " + " -> ".join(cycle), 2) from None
    order: list[Package] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda d: (len(packages[d].occo_deps), d))
        for dist in ready:
            order.append(packages[dist])
            sorter.done(dist)
    return order


def closure(packages: dict[str, Package], pkg: Package, *, tests: bool = False
            ) -> list[Package]:
    """The occo packages ``pkg`` needs, directly or not, in build order (``pkg`` last);
    with ``tests``, also those its tests need (its test extra's, and what they need)."""
    needed: set[str] = set()
    todo = [pkg.dist, *(pkg.test_occo_deps if tests else ())]
    while todo:
        dist = todo.pop()
        if dist in needed:
            continue
        needed.add(dist)
        todo.extend(packages[dist].occo_deps)
    return [p for p in build_order(packages) if p.dist in needed]


def select(packages: dict[str, Package], names: list[str]) -> list[Package]:
    """Packages named by directory or distribution name, in build order."""
    by_any = {p.directory: p for p in packages.values()} | packages
    wanted = set()
    for name in names:
        if name not in by_any:
            known = ", ".join(sorted(p.directory for p in packages.values()))
            raise ToolError(f"no package named {name!r}; packages: {known}", 2)
        wanted.add(by_any[name].dist)
    return [p for p in build_order(packages) if p.dist in wanted]
