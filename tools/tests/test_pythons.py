"""The supported Pythons: defined once (occotool.pythons), found on this machine, stated
the same everywhere a user reads them, and served by the wheelhouses."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from occotool import pythons, wheels
from occotool.errors import ToolError
from occotool.packages import discover


@pytest.mark.parametrize("version", pythons.SUPPORTED)
def test_every_supported_python_is_found_here_and_runs(version):
    # The project's machines and CI have all three (pyenv); a developer's may lack one.
    found = pythons.find(version)
    if found is None:
        pytest.skip(f"no Python {version} on this machine (CI=true fails this skip)")
    assert pythons.version_of(found) == version


def test_resolve_takes_a_version_or_a_command_and_refuses_the_rest(tmp_path):
    path, version = pythons.resolve(sys.executable)
    assert version == "{}.{}".format(*sys.version_info[:2])
    with pytest.raises(ToolError, match=r"Python 3\.9 is not supported \(supported: 3\.11, "
                                        r"3\.12, 3\.13\)"):
        pythons.resolve("3.9")
    fake = tmp_path / "python3.77"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(ToolError, match="not a Python interpreter that runs"):
        pythons.resolve(str(fake))


def test_a_pyenv_shim_that_fails_is_passed_over(tmp_path, monkeypatch):
    # A shim on PATH for a version pyenv has not selected exits 127; the pyenv copy is used.
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    real = tmp_path / "pyenv" / "versions" / "3.12.9" / "bin" / "python3.12"
    real.parent.mkdir(parents=True)
    real.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'print(\"3.12\")'\n")
    real.chmod(0o755)
    older = tmp_path / "pyenv" / "versions" / "3.12.1" / "bin" / "python3.12"
    older.parent.mkdir(parents=True)
    older.write_text(real.read_text())
    older.chmod(0o755)
    monkeypatch.setenv("PATH", str(shims))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setattr(pythons.sys, "version_info", (3, 99, 0))
    assert pythons.find("3.12") == real  # the newest release of 3.12 pyenv has
    assert pythons.find("3.13") is None


def _classifiers(setup_py: Path) -> list[str]:
    tree = ast.parse(setup_py.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "classifiers":
            return ast.literal_eval(node.value)
    return []


def test_the_supported_pythons_are_stated_the_same_everywhere():
    listed = ", ".join(pythons.SUPPORTED[:-1]) + " or " + pythons.SUPPORTED[-1]
    readme = " ".join((ROOT / "README.rst").read_text().split())
    assert f"CPython {listed}" in readme
    install = " ".join((ROOT / "docs" / "user" / "install.rst").read_text().split())
    assert "CPython " + ", ".join(pythons.SUPPORTED[:-1]) + " and " + pythons.SUPPORTED[-1] \
        in install
    for pkg in discover(ROOT).values():
        versions = [c.rsplit(" :: ", 1)[1] for c in _classifiers(pkg.path / "setup.py")
                    if re.match(r"Programming Language :: Python :: 3\.\d+$", c)]
        assert tuple(versions) == pythons.SUPPORTED, pkg.path / "setup.py"
        assert f'python_requires=">={pythons.SUPPORTED[0]}"' in \
            (pkg.path / "setup.py").read_text()


def test_a_dependency_without_a_wheel_for_a_target_stops_the_build(tmp_path):
    # PyYAML 5.1 predates CPython 3.13: no wheel, only its sdist. Asked of PyPI (through
    # pip's own configuration), as package.sh asks.
    with pytest.raises(ToolError) as caught:
        wheels._fetch_for_target(tmp_path, ["PyYAML==5.1"], "3.13", "manylinux x86_64")
    assert "PyYAML==5.1 publishes no wheel for CPython 3.13 on manylinux x86_64" \
        in str(caught.value)
    assert not list((tmp_path / "env").rglob("*.whl"))


def test_compiled_wheels_are_fetched_for_each_target_and_cached(tmp_path):
    got = {v: wheels._fetch_for_target(tmp_path, ["PyYAML==6.0.2"], v, "manylinux aarch64")
           for v in pythons.SUPPORTED}
    for version, found in got.items():
        (wheel,) = found
        digits = version.replace(".", "")
        assert wheel.name.startswith(f"PyYAML-6.0.2-cp{digits}-cp{digits}-") or \
            wheel.name.startswith(f"pyyaml-6.0.2-cp{digits}-cp{digits}-"), wheel.name
        assert "aarch64" in wheel.name
    # a second ask is answered from env/cache/targets without pip: same files
    again = wheels._fetch_for_target(tmp_path, ["PyYAML==6.0.2"], "3.12", "manylinux aarch64")
    assert again == got["3.12"]


@pytest.mark.parametrize("spec", ["python{v}", "{v}"])
@pytest.mark.parametrize("version", pythons.SUPPORTED)
def test_bootstrap_runs_the_python_it_is_given(spec, version):
    if pythons.find(version) is None:
        pytest.skip(f"no Python {version} on this machine (CI=true fails this skip)")
    proc = subprocess.run([str(ROOT / "bootstrap.sh"), "python"], capture_output=True,
                          text=True, env={**os.environ, "PYTHON": spec.format(v=version)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[1].startswith(version + ".")


def test_bootstrap_refuses_an_unsupported_python():
    proc = subprocess.run([str(ROOT / "bootstrap.sh"), "python"], capture_output=True,
                          text=True, env={**os.environ, "PYTHON": "no-such-python"})
    assert proc.returncode == 2
    assert "OCCO needs CPython 3.11, 3.12 or 3.13 as $PYTHON (now: no-such-python)" \
        in proc.stderr
