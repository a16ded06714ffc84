"""Wheelhouses (what package.sh builds) and the checks every built wheel must pass.

A package's wheelhouse (``<package>/wheelhouse/``) is self-contained: its own wheel plus
the wheel of every dependency at the version requirements.txt pins, occo siblings
included, so it can be uploaded to the internal index or vendored as it is. It is built
in a clean virtualenv with ``pip wheel``, as the seed's workflow did.

It serves every supported Python and platform (occotool.pythons): a dependency with
compiled parts has a wheel for each supported CPython on each declared platform, fetched
with ``pip download --only-binary=:all:`` by that Python's own interpreter where this
machine has it (so environment markers are read as that Python reads them), except a
marker on the patch release (``python_full_version``), which no one interpreter can read
for its whole feature release: such a dependency is fetched for every target. Pure-Python
wheels serve all. Where a dependency publishes no wheel for a target, the build names the
dependency and the target and stops. Fetched wheels are kept in env/cache/targets/, so
packages that share a dependency fetch it once.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from . import pythons
from .envs import base_python, bin_of, env_dir, pip_env, run, uv, uv_env
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


def _pins(requirements: Path) -> dict[str, str]:
    """normalised name -> the requirement line (with its marker) of ``requirements``."""
    lines: dict[str, str] = {}
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        found = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==", line)
        if found:
            lines[normalise(found.group(1))] = line
    return lines


def _is_compiled(wheel: Path) -> bool:
    return not wheel.name.endswith("-none-any.whl")


def _target_tags(version: str, platform: str) -> list[str]:
    digits = version.replace(".", "")
    args = ["--python-version", version, "--implementation", "cp",
            "--abi", f"cp{digits}", "--abi", "abi3", "--abi", "none"]
    for tag in pythons.PLATFORMS[platform]:
        args += ["--platform", tag]
    return args


def _fetch_for_target(root: Path, lines: list[str], version: str, platform: str) -> list[Path]:
    """Wheels of ``lines`` (``name==version`` with markers) for one target, from the cache
    or fetched into it; a dependency without such a wheel stops the build."""
    cache = env_dir(root) / "cache" / "targets" / f"cp{version.replace('.', '')}-" \
        f"{platform.replace(' ', '-')}"
    cache.mkdir(parents=True, exist_ok=True)

    def cached(line: str) -> list[Path]:
        name, pinned = line.split(";", 1)[0].split("==")
        return [w for w in cache.glob("*.whl")
                if wheel_identity(w.name) == (normalise(name.strip()), pinned.strip())]

    missing = [line for line in lines if not cached(line) and (
        _patch_level(line) or not (cache / f"{_stamp_name(line)}.none").is_file())]
    if missing:
        python = pythons.find(version) or Path(sys.executable)
        reqs = cache / "wanted.txt"
        reqs.write_text("\n".join(_download_line(line) for line in missing) + "\n")
        cmd = [str(python), "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--dest", str(cache),
               *_target_tags(version, platform), "-r", str(reqs)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=pip_env(root))
        if proc.returncode != 0:
            out = proc.stdout + proc.stderr
            named = re.findall(r"No matching distribution found for (\S+)", out)
            what = named[0] if named else ", ".join(missing)
            raise ToolError(f"{what} publishes no wheel for CPython {version} on {platform}, "
                            "and an operator there could not install it from the internal "
                            "index: pin a version that has one, or drop the target from "
                            "tools/occotool/pythons.py (PLATFORMS) with a note in "
                            "docs/dev/packaging.rst" + ("" if named else f":\n{out[-2000:]}"))
        for line in missing:
            if not cached(line):  # a marker left it out for this Python: remember that
                (cache / f"{_stamp_name(line)}.none").write_text(line + "\n")
    return [w for line in lines for w in cached(line)]


def _patch_level(line: str) -> bool:
    """Whether the line's marker compares the patch release (``python_full_version``):
    no one interpreter of a feature release can decide it for all of that release's
    patch releases (Debian 12's Python is 3.11.2, this machine's may be 3.11.7)."""
    return ";" in line and "python_full_version" in line.split(";", 1)[1]


def _download_line(line: str) -> str:
    """The line as ``pip download`` is given it: without a patch-level marker, so the
    wheel is in the wheelhouse for every patch release (pip skips it where the marker
    is false when it installs)."""
    return line.split(";", 1)[0].strip() if _patch_level(line) else line


def _stamp_name(line: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", line)


def add_targets(root: Path, pkg: Package, requirements: Path) -> list[str]:
    """Add to ``pkg``'s wheelhouse the wheels of its compiled dependencies for every
    supported Python and platform; one line per target saying what it took."""
    pins = _pins(requirements)
    have = {wheel_identity(w.name)[0] for w in pkg.wheelhouse.glob("*.whl")}
    compiled = {wheel_identity(w.name)[0] for w in pkg.wheelhouse.glob("*.whl")
                if _is_compiled(w)}
    # compiled ones, and pins a marker kept out of this Python's build (another may need it)
    wanted = [line for name, line in sorted(pins.items())
              if not name.startswith("occo-") and (name in compiled or name not in have)]
    report = []
    for version in pythons.SUPPORTED:
        for platform in pythons.PLATFORMS:
            got = _fetch_for_target(root, wanted, version, platform)
            for wheel in got:
                if not (pkg.wheelhouse / wheel.name).exists():
                    shutil.copy2(wheel, pkg.wheelhouse / wheel.name)
            report.append(f"CPython {version} {platform}: {len(got)} compiled wheels")
    return report


def build_wheelhouse(root: Path, packages: dict[str, Package], pkg: Package,
                     why: str = "") -> list[Path]:
    """Build ``pkg``'s wheelhouse, building missing sibling wheelhouses first."""
    for dep in closure(packages, pkg)[:-1]:
        if not any(dep.wheelhouse.glob(f"{dep.dist.replace('-', '_')}-{dep.version}-*.whl")):
            build_wheelhouse(root, packages, dep, why=f"a dependency of {pkg.dist}, "
                             "whose wheelhouse takes its wheel from there")
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
    targets = add_targets(root, pkg, requirements)
    wheels = sorted(pkg.wheelhouse.glob("*.whl"))
    check_wheels(wheels, packages)
    print(f"{pkg.directory}/wheelhouse: {len(wheels)} wheels"
          + (f" (built as {why})" if why else ""), flush=True)
    for line in targets:
        print(f"    {line}", flush=True)
    return wheels
