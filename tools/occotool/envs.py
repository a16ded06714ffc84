"""Virtual environments: the tool's own (env/tools), the development one (env/dev) and one
per package for its tests (env/test/<package>, or env/test-3.X/<package> for another
supported Python than the one running the tool).

env/tools is made with the standard library's ``venv`` and pip, from the exact pins in
tools/requirements.txt. Every other environment is made with uv from that environment,
sharing one wheel cache (env/cache), so a warm rebuild takes a fraction of a second.
An environment is rebuilt only when the files it was made from change (a stamp records
their hash).

Where packages come from: pip's own configuration, or ``OCCO_INDEX_URL`` (the internal
index's simple URL) when it is set. No index URL is ever written into a requirements file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from .errors import ToolError

INDEX_ENV = "OCCO_INDEX_URL"


def env_dir(root: Path) -> Path:
    return root / "env"


def bin_of(venv_dir: Path, program: str) -> Path:
    return venv_dir / "bin" / program


def run(cmd: list, *, cwd: Path | None = None, env: dict | None = None,
        what: str | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    """Run a command; on failure raise ToolError with its output's tail."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout or "").strip().splitlines()[-25:])
        raise ToolError(f"{what or ' '.join(map(str, cmd))} failed "
                        f"(exit {proc.returncode})" + (f":\n{tail}" if tail else ""))
    return proc


def _stamp(inputs: list[Path], python: str | Path | None = None) -> str:
    digest = hashlib.sha256()
    # the interpreter too: an environment of another Python is never reused
    digest.update(os.path.realpath(python or base_python()).encode())
    for path in inputs:
        digest.update(str(path).encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()


def _fresh(venv_dir: Path, stamp: str) -> bool:
    marker = venv_dir / ".occo-stamp"
    return marker.is_file() and marker.read_text() == stamp


def _mark(venv_dir: Path, stamp: str) -> None:
    (venv_dir / ".occo-stamp").write_text(stamp)


def tools_env(root: Path) -> Path:
    """env/tools with uv, twine, pypiserver and pytest, made by the standard library."""
    venv_dir = env_dir(root) / "tools"
    requirements = root / "tools" / "requirements.txt"
    stamp = _stamp([requirements], base_python())
    if _fresh(venv_dir, stamp):
        return venv_dir
    if venv_dir.exists():
        shutil.rmtree(venv_dir)
    print(f"creating {venv_dir.relative_to(root)} (the tool's own environment)", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    index = [f"--index-url={os.environ[INDEX_ENV]}"] if os.environ.get(INDEX_ENV) else []
    pip = [bin_of(venv_dir, "python"), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "-q", "--no-deps", *index, "-r", requirements],
        env=pip_env(root), what="installing tools/requirements.txt")
    run([*pip, "check"], what="pip check of env/tools (tools/requirements.txt incomplete?)")
    _mark(venv_dir, stamp)
    return venv_dir


def pip_env(root: Path, **extra: str) -> dict:
    """Environment for pip: the shared cache under env/cache/pip."""
    env = dict(os.environ)
    env.setdefault("PIP_CACHE_DIR", str(env_dir(root) / "cache" / "pip"))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def uv_env(root: Path) -> dict:
    """Environment for uv: shared cache, no Python downloads, the configured index."""
    env = dict(os.environ)
    env["UV_CACHE_DIR"] = str(env_dir(root) / "cache" / "uv")
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    if os.environ.get(INDEX_ENV):
        env["UV_DEFAULT_INDEX"] = os.environ[INDEX_ENV]
    return env


def uv(root: Path) -> Path:
    return bin_of(tools_env(root), "uv")


def base_python() -> str:
    """The interpreter new environments are made from: the one running this tool, or, when
    the tool runs inside a virtualenv (env/tools, as its tests run it), that
    virtualenv's base interpreter, so an environment's stamp does not depend on which of
    the two started the tool."""
    if sys.prefix != sys.base_prefix:
        for name in (f"python{sys.version_info[0]}.{sys.version_info[1]}",
                     f"python{sys.version_info[0]}", "python"):
            candidate = Path(sys.base_prefix) / "bin" / name
            if candidate.is_file():
                return os.path.realpath(candidate)
    return os.path.realpath(sys.executable)


def make_env(root: Path, venv_dir: Path, requirement_files: list[Path], *, cwd: Path,
             stamp_inputs: list[Path], seed_pip: bool = False,
             python: Path | None = None) -> Path:
    """A virtualenv of ``python`` (default: :func:`base_python`) holding exactly what
    ``requirement_files`` list (installed --no-deps), checked to be complete. Reused while
    ``stamp_inputs`` and the interpreter are unchanged."""
    interpreter = os.path.realpath(python) if python else base_python()
    stamp = _stamp([*requirement_files, *stamp_inputs], interpreter)
    if _fresh(venv_dir, stamp):
        return venv_dir
    tool = uv(root)
    env = uv_env(root)
    seed = ["--seed"] if seed_pip else []
    run([tool, "venv", "-q", "--clear", *seed, "--python", interpreter, venv_dir],
        env=env, what=f"creating {venv_dir}")
    python = bin_of(venv_dir, "python")
    reqs = [arg for f in requirement_files for arg in ("-r", f)]
    run([tool, "pip", "install", "-q", "--no-deps", "--python", python, *reqs],
        cwd=cwd, env=env, what=f"installing {', '.join(str(f) for f in requirement_files)}")
    run([tool, "pip", "check", "--python", python], env=env,
        what=f"dependency check of {venv_dir} (a requirements file is incomplete)")
    _mark(venv_dir, stamp)
    return venv_dir
