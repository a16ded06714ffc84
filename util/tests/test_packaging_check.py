"""The shared packaging check finds each kind of problem, on a package made here."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import textwrap

import pytest

from occo.util.testing import packaging


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """occo.zzfake: a package written into tmp_path, with metadata the test sets."""
    root = tmp_path / "occo" / "zzfake"
    root.mkdir(parents=True)
    meta = {"version": "1.0", "requires": ["occo-util", "PyYAML"]}
    monkeypatch.setattr(packaging.md, "version", lambda dist: meta["version"])
    monkeypatch.setattr(packaging.md, "requires", lambda dist: meta["requires"])
    meta["entry_points"] = []
    monkeypatch.setattr(packaging.md, "distribution", lambda dist: type(
        "Dist", (), {"entry_points": [importlib.metadata.EntryPoint(n, v, g)
                                      for n, v, g in meta["entry_points"]]})())
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(**files: str) -> None:
        for name, text in files.items():
            (root / name).write_text(textwrap.dedent(text))
        for name in [m for m in sys.modules if m.startswith("occo.zzfake")]:
            del sys.modules[name]
        importlib.invalidate_caches()

    write(**{"__init__.py": '__version__ = "1.0"\n__all__ = ["__version__"]\n'})
    yield write, meta
    for name in [m for m in sys.modules if m.startswith("occo.zzfake")]:
        del sys.modules[name]


def test_a_package_that_imports_what_it_declares_passes(fake):
    write, meta = fake
    write(**{"core.py": "import yaml\nfrom occo.util import OccoError\n"})
    assert packaging.packaging_problems("occo-zzfake") == []


def test_a_declared_dependency_nothing_imports_fails(fake):
    write, meta = fake
    write(**{"core.py": "from occo.util import OccoError\n"})
    assert packaging.packaging_problems("occo-zzfake") == [
        "occo-zzfake declares pyyaml, which its code never imports"]
    assert packaging.packaging_problems(
        "occo-zzfake", needed_without_import={"PyYAML": "loaded by a plugin"}) == []


def test_an_import_not_declared_fails_with_file_and_line(fake):
    write, meta = fake
    meta["requires"] = ["occo-util"]
    write(**{"core.py": "import os\n\nimport yaml\nfrom occo.util import OccoError\n"})
    assert packaging.packaging_problems("occo-zzfake") == [
        "occo/zzfake/core.py:3: imports yaml (from pyyaml), which occo-zzfake does not "
        "declare"]


def test_an_extra_is_not_a_runtime_dependency(fake):
    write, meta = fake
    meta["requires"] = ["occo-util", 'PyYAML; extra == "test"']
    write(**{"core.py": "import yaml\nfrom occo.util import OccoError\n"})
    assert packaging.packaging_problems("occo-zzfake") == [
        "occo/zzfake/core.py:1: imports yaml (from pyyaml), which occo-zzfake does not "
        "declare"]


def test_a_deep_import_from_another_package_fails(fake):
    write, meta = fake
    write(**{"core.py": "import yaml\nfrom occo.util.errors import OccoError\n"
                        "from occo.util.comm import encode_error\n"
                        "from occo.util.comm import not_there\n"})
    assert packaging.packaging_problems("occo-zzfake") == [
        "occo/zzfake/core.py:2: imports from occo.util.errors, a module internal to "
        "occo-util (use its top package or a public subpackage)",
        "occo/zzfake/core.py:4: imports not_there from occo.util.comm, which is not in its "
        "__all__"]


def test_an_undeclared_occo_package_fails(fake):
    write, meta = fake
    meta["requires"] = ["PyYAML"]
    write(**{"core.py": "import yaml\nfrom occo.util import OccoError\n"})
    assert packaging.packaging_problems("occo-zzfake") == [
        "occo/zzfake/core.py:2: imports occo.util, but occo-zzfake does not declare "
        "occo-util"]


def test_the_surface_and_the_version_are_checked(fake):
    write, meta = fake
    meta["version"] = "2.0"
    write(**{"__init__.py": '__version__ = "1.0"\n__all__ = ["__version__", "gone"]\n'
                            "from typing import Any\nLIMIT = 3\n",
             "core.py": "import yaml\nfrom occo.util import OccoError\n"})
    assert packaging.packaging_problems("occo-zzfake") == [
        "occo-zzfake 2.0 is installed but occo.zzfake.__version__ is '1.0'",
        "occo.zzfake.__all__ names gone, which it does not have",
        "occo.zzfake.LIMIT is public but not in __all__"]


def test_an_entry_point_group_that_is_not_occos_fails(fake):
    write, meta = fake
    write(**{"core.py": "import yaml\nfrom occo.util import OccoError\n"})
    meta["entry_points"] = [("dummy", "occo.zzfake.core:X", "occo.cloudhandler"),
                            ("occo", "occo.zzfake.core:main", "console_scripts"),
                            ("x", "occo.zzfake.core:X", "occo.cloud_handler")]
    assert packaging.packaging_problems("occo-zzfake") == [
        "occo-zzfake declares entry points in 'occo.cloud_handler', which is not one of "
        "OCCO's plugin groups (occo.cloudhandler, occo.resource_schema, occo.configmanager, "
        "occo.healthcheck)"]
