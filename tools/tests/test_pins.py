"""The requirements files of every package are complete, pinned, and index-free."""

from __future__ import annotations

from conftest import fake_package, occo_tool

from occotool import pins
from occotool.packages import build_order, discover


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


def test_an_occo_package_only_the_tests_need_is_in_requirements_test_alone(tmp_path):
    fake_package(tmp_path, "util", "occo-util", [])
    fake_package(tmp_path, "compiler", "occo-compiler", ["occo-util"])
    b = fake_package(tmp_path, "b", "occo-b", ["occo-util"], test_requires=["occo-compiler"])
    (b / "requirements.txt").write_text("occo-util==1.2.3\n")
    (b / "requirements_test.txt").write_text("-e ../util\n-e .\npytest==9.2.0\n")
    packages = discover(tmp_path)
    assert packages["occo-b"].occo_deps == ("occo-util",)
    assert packages["occo-b"].test_occo_deps == ("occo-compiler",)
    assert pins.check(packages, packages["occo-b"]) == [
        f"{b / 'requirements_test.txt'}: missing '-e ../compiler'"]
    (b / "requirements_test.txt").write_text("-e ../util\n-e ../compiler\n-e .\n")
    assert pins.check(packages, packages["occo-b"]) == []
    (b / "requirements.txt").write_text("occo-util==1.2.3\nocco-compiler==1.2.3\n")
    assert pins.check(packages, packages["occo-b"]) == [
        f"{b / 'requirements.txt'}: occo-compiler is not a runtime dependency of occo-b "
        "(a test-only one belongs in requirements_test.txt)"]
    order = [p.dist for p in build_order(packages)]
    assert order.index("occo-compiler") < order.index("occo-b")


def test_a_cycle_through_a_test_dependency_is_refused(tmp_path):
    fake_package(tmp_path, "a", "occo-a", [], test_requires=["occo-b"])
    fake_package(tmp_path, "b", "occo-b", ["occo-a"])
    proc = occo_tool("--root", str(tmp_path), "order")
    assert proc.returncode == 2
    assert "dependency cycle between packages:" in proc.stderr


def test_a_pin_a_dependency_needs_is_missing_downstream(tmp_path):
    util = fake_package(tmp_path, "util", "occo-util", ["requests"])
    (util / "requirements.txt").write_text("requests==2.0.0\nidna==3.1 ; os_name == 'nt'\n")
    b = fake_package(tmp_path, "b", "occo-b", ["occo-util"])
    (b / "requirements.txt").write_text("occo-util==1.2.3\nrequests==2.0.0\n")
    (b / "requirements_test.txt").write_text("-e ../util\n-e .\nrequests==1.9.0\n")
    packages = discover(tmp_path)
    assert pins.check(packages, packages["occo-b"]) == [
        f"{b / 'requirements.txt'}: missing \"idna==3.1 ; os_name == 'nt'\", a pin of "
        "occo-util (run tools/occo-tool pin b)",
        f"{b / 'requirements_test.txt'}: missing 'requests==2.0.0', a pin of occo-util "
        "(run tools/occo-tool pin b)",
        f"{b / 'requirements_test.txt'}: missing \"idna==3.1 ; os_name == 'nt'\", a pin of "
        "occo-util (run tools/occo-tool pin b)"]
