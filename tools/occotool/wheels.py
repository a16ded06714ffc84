"""Wheelhouses (what package.sh builds) and the checks every built wheel must pass.

A package's wheelhouse (``<package>/wheelhouse/``) is self-contained: its own wheel plus
the wheel of every dependency at the version requirements.txt pins, occo siblings
included, so it can be uploaded to the internal index or vendored as it is. It is built
in a clean virtualenv with ``pip wheel``, as the seed's workflow did.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from .envs import bin_of, env_dir, pip_env, run, uv, uv_env, base_python
from .errors import ToolError
from .packages import Package, closure

_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


def wheel_identity(filename: str) -> tuple[str, str]:
    """(normalised distribution name, version) from a wheel's file name."""
    match = _WHEEL_NAME.match(filename)
    if not match:
        raise ToolError(f"{filename}: not a wheel file name")
    return normalise(match["name"]), match["version"]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_wheel(path: Path, packages: dict[str, Package]) -> list[str]:
    """Problems with one occo wheel: stray files, a namespace __init__, a wrong version."""
    name, version = wheel_identity(path.name)
    pkg = next((p for p in packages.values() if normalise(p.dist) == name), None)
    if pkg is None:
        return []  # not one of ours
    problems: list[str] = []
    prefix = f"occo/{pkg.module}/"
    dist_info = f"{path.name.split('-')[0]}-{version}.dist-info/"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        for member in names:
            if member == "occo/__init__.py":
                problems.append(f"{path.name}: contains occo/__init__.py; occo is a PEP 420 "
                                "namespace shared by all OCCO packages and must not have one")
            elif not (member.startswith(prefix) or member.startswith(dist_info)):
                problems.append(f"{path.name}: unexpected file {member} "
                                f"(only {prefix}... and {dist_info}...)")
        metadata = next((n for n in names if n == dist_info + "METADATA"), None)
        if metadata is None:
            problems.append(f"{path.name}: no {dist_info}METADATA")
        else:
            text = archive.read(metadata).decode("utf-8", "replace")
            found = re.search(r"^Version: (.+)$", text, re.MULTILINE)
            meta_version = found.group(1).strip() if found else None
            if meta_version != pkg.version:
                problems.append(f"{path.name}: metadata version {meta_version} differs from "
                                f"{pkg.version_file.relative_to(pkg.path.parent)} ({pkg.version})")
    return problems


def check_wheels(paths: list[Path], packages: dict[str, Package]) -> None:
    problems = [p for path in paths for p in check_wheel(path, packages)]
    if problems:
        raise ToolError("wheel check failed:\n  " + "\n  ".join(problems))


def build_wheelhouse(root: Path, packages: dict[str, Package], pkg: Package) -> list[Path]:
    """Build ``pkg``'s wheelhouse, building missing sibling wheelhouses first."""
    for dep in closure(packages, pkg)[:-1]:
        if not any(dep.wheelhouse.glob(f"{dep.dist.replace('-', '_')}-{dep.version}-*.whl")):
            build_wheelhouse(root, packages, dep)
    requirements = pkg.path / "requirements.txt"
    if not requirements.is_file():
        raise ToolError(f"{requirements} missing: run tools/occo-tool pin {pkg.directory}", 2)
    build_env = env_dir(root) / "build" / pkg.directory
    run([uv(root), "venv", "-q", "--clear", "--seed", "--python", base_python(), build_env],
        env=uv_env(root), what=f"creating the clean build environment {build_env}")
    if pkg.wheelhouse.exists():
        shutil.rmtree(pkg.wheelhouse)
    pkg.wheelhouse.mkdir()
    links = [arg for dep in closure(packages, pkg)[:-1]
             for arg in ("--find-links", dep.wheelhouse)]
    pip = [bin_of(build_env, "python"), "-m", "pip", "wheel", "-q", "--wheel-dir", pkg.wheelhouse]
    env = pip_env(root)
    run([*pip, "--no-deps", pkg.path], env=env, what=f"building the wheel of {pkg.dist}")
    run([*pip, "--no-deps", *links, "-r", requirements], env=env,
        what=f"collecting the wheels of {pkg.dist}'s dependencies")
    shutil.rmtree(build_env, ignore_errors=True)
    wheels = sorted(pkg.wheelhouse.glob("*.whl"))
    check_wheels(wheels, packages)
    print(f"{pkg.directory}/wheelhouse: {len(wheels)} wheels", flush=True)
    return wheels
