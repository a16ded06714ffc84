"""The requirements files of every package are complete, pinned, and index-free."""

from __future__ import annotations

from conftest import fake_package, occo_tool

from occotool import pins
from occotool.packages import discover


def test_check_pins_passes_on_this_checkout():
    proc = occo_tool("check-pins")
    assert proc.returncode == 0, proc.stderr
    assert "complete and pinned" in proc.stdout


def test_problems_are_found(tmp_path):
    fake_package(tmp_path, "util", "occo-util", [])
    b = fake_package(tmp_path, "b", "occo-b", ["occo-util", "redis"])
    (b / "requirements.txt").write_text("redis>=5\n-e ../util\n")
    (b / "requirements_test.txt").write_text(
        "--index-url http://pypi.internal/simple/\n-e .\npytest==9.2.0\n")
    packages = discover(tmp_path)
    problems = "\n".join(pins.check(packages, packages["occo-b"]))
    assert "'redis>=5' is not pinned with ==" in problems
    assert "missing occo-util==1.2.3" in problems
    assert "editable lines belong in requirements_test.txt" in problems
    assert "the index comes from configuration" in problems
    assert "missing '-e ../util'" in problems
