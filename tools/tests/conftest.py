"""Shared fixtures for the tool's tests: the checkout, and running occo-tool as users do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1]
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

# Variables that would point pip, uv or twine somewhere else than the test intends.
INDEX_VARIABLES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX",
                   "PIP_CONFIG_FILE", "OCCO_INDEX_URL", "OCCO_INDEX_PASSWORD", "TWINE_PASSWORD",
                   "TWINE_USERNAME", "UV_INDEX_URL", "UV_DEFAULT_INDEX")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def wheelhouses() -> subprocess.CompletedProcess:
    """Every package's wheelhouse, built from this checkout once per test session (the
    release round trip and the container image install from them)."""
    proc = occo_tool("package", "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0].startswith("build order: util,")
    return proc


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in INDEX_VARIABLES}
    env.update(extra)
    return env


def occo_tool(*args: str, env: dict | None = None, cwd: Path | None = None,
              check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(TOOLS / "occo-tool"), *args], text=True,
                          capture_output=True, env=env or clean_env(), cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"occo-tool {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def fake_package(base: Path, directory: str, dist: str, requires: list[str],
                 test_requires: list[str] | None = None) -> Path:
    """A minimal package directory, as occo-tool reads it."""
    module = dist.removeprefix("occo-")
    pkg = base / directory
    (pkg / "occo" / module).mkdir(parents=True)
    (pkg / "occo" / module / "version.py").write_text('__version__ = "1.2.3"\n')
    (pkg / "setup.py").write_text(
        "from setuptools import setup\n"
        f"setup(name={dist!r}, version='1.2.3', install_requires={requires!r}, "
        f"extras_require={{'test': {test_requires or []!r}}})\n")
    return pkg
