"""The original OCCO developer workflow, as every package's README.rst and
docs/dev/packaging.rst show it, really works here: in a package's directory,
``virtualenv env/<pkg>-dev``, activate it, ``pip install --no-deps -r
requirements_test.txt``, then ``pytest`` (where the original said ``nosetests``, which does
not run on Python 3.10 and newer)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, clean_env

from occotool.packages import build_order, discover

ORDER = build_order(discover(ROOT))


def steps(pkg: str) -> list[str]:
    """The developer steps every README shows, in order."""
    return [f"virtualenv env/{pkg}-dev", f"source env/{pkg}-dev/bin/activate",
            "pip install --no-deps -r requirements_test.txt", "pytest"]


def commands_of(text: str) -> list[str]:
    """The command lines of an rst text's literal blocks (comments after # dropped)."""
    return [line.split("#", 1)[0].strip() for line in text.splitlines()
            if line.startswith("    ") and line.split("#", 1)[0].strip()]


@pytest.mark.parametrize("pkg", [p.directory for p in ORDER])
def test_every_readme_shows_the_workflow(pkg):
    text = (ROOT / pkg / "README.rst").read_text()
    commands = commands_of(text)
    wanted = steps(pkg)
    at = [commands.index(step) if step in commands else -1 for step in wanted]
    assert -1 not in at and at == sorted(at), (pkg, wanted, commands)
    assert f"python3 -m venv env/{pkg}-dev" in text
    assert "nose does not run on Python 3.10 and newer" in " ".join(text.split())


def test_the_packaging_page_shows_the_workflow():
    text = (ROOT / "docs" / "dev" / "packaging.rst").read_text()
    commands = commands_of(text)
    for step in ["cd compiler", *steps("compiler")]:
        assert step in commands, step
    assert "nose does not run on Python 3.10 and newer" in " ".join(text.split())


@pytest.mark.slow
@pytest.mark.parametrize("make", ["virtualenv", "python3 -m venv"])
def test_the_steps_work_for_util(tmp_path, make):
    """util's steps, in a copy of util/, with ``virtualenv`` (the tool's own, from
    env/tools) or the standard library's venv; then one quick test module."""
    work = tmp_path / "util"
    shutil.copytree(ROOT / "util", work, ignore=shutil.ignore_patterns(
        "env", "build", "wheelhouse", "*.egg-info", "__pycache__", ".pytest_cache"))
    bin_dir = tmp_path / "bin"   # only what the steps call: nothing else of env/tools
    bin_dir.mkdir()
    (bin_dir / "virtualenv").symlink_to(Path(sys.executable).parent / "virtualenv")
    (bin_dir / "python3").symlink_to(sys.executable)
    first, activate, install, run_tests = steps("util")
    if make != "virtualenv":
        first = f"{make} env/util-dev"
    script = "\n".join([
        "set -eu",
        first,
        activate,
        # the activated environment's pip, never the tool's
        '[ "$(command -v pip)" = "$PWD/env/util-dev/bin/pip" ]',
        install,
        f"{run_tests} -q -p no:cacheprovider tests/test_packaging.py",
    ])
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                    PIP_CACHE_DIR=str(ROOT / "env" / "cache" / "pip"),
                    PIP_DISABLE_PIP_VERSION_CHECK="1")
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    started = time.monotonic()
    proc = subprocess.run(["bash", "-c", script], cwd=work, env=env, text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout   # util's packaging test (the shared check)
    assert (work / "env" / "util-dev" / "bin" / "pytest").is_file()
    assert time.monotonic() - started < 60
