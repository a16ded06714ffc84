"""Every built wheel is checked: only its own files, no namespace __init__, right version."""

from __future__ import annotations

import zipfile

from conftest import occo_tool


def make_wheel(path, files):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def metadata(version="0.1.0"):
    return f"Metadata-Version: 2.1\nName: occo-util\nVersion: {version}\n"


def util_version(root):
    from occotool.packages import discover
    return discover(root)["occo-util"].version


def test_a_good_wheel_passes(tmp_path, root):
    version = util_version(root)
    good = make_wheel(tmp_path / f"occo_util-{version}-py3-none-any.whl", {
        "occo/util/__init__.py": "", f"occo_util-{version}.dist-info/METADATA": metadata(version)})
    proc = occo_tool("check-wheels", str(good))
    assert proc.returncode == 0, proc.stderr


def test_a_wheel_with_the_namespace_init_is_refused(tmp_path, root):
    version = util_version(root)
    bad = make_wheel(tmp_path / f"occo_util-{version}-py3-none-any.whl", {
        "occo/__init__.py": "", "occo/util/__init__.py": "", "setup_helpers.py": "",
        f"occo_util-{version}.dist-info/METADATA": metadata("9.9.9")})
    proc = occo_tool("check-wheels", str(bad))
    assert proc.returncode != 0
    assert "contains occo/__init__.py; occo is a PEP 420 namespace" in proc.stderr
    assert "unexpected file setup_helpers.py" in proc.stderr
    assert "metadata version 9.9.9 differs from util/occo/util/version.py" in proc.stderr


def test_a_marker_on_the_patch_release_is_left_to_pip_at_install_time():
    from occotool.wheels import _download_line, _patch_level
    line = "async-timeout==5.0.1 ; python_full_version < '3.11.3'"
    assert _patch_level(line) and _download_line(line) == "async-timeout==5.0.1"
    # a marker a target's own interpreter can decide is kept
    kept = "legacy-cgi==2.6.4 ; python_version >= '3.13'"
    assert not _patch_level(kept) and _download_line(kept) == kept
    assert not _patch_level("pyyaml==6.0.4") and _download_line("pyyaml==6.0.4") == "pyyaml==6.0.4"
