"""Package discovery and the build order, computed from what packages declare."""

from __future__ import annotations

from conftest import fake_package, occo_tool

from occotool.packages import build_order, discover


def test_order_of_this_checkout(root):
    order = [p.directory for p in build_order(discover(root))]
    assert order[0] == "util"
    assert order[-2:] == ["occo-api", "occo-demo"]
    assert len(order) == 9
    position = {name: i for i, name in enumerate(order)}
    for pkg in discover(root).values():
        for dep in pkg.occo_deps:
            dep_dir = next(p.directory for p in discover(root).values() if p.dist == dep)
            assert position[dep_dir] < position[pkg.directory]


def test_declared_dependencies_follow_the_contract(root):
    """ARCHITECTURE.md section 2: what each package may depend on. Every row is kept
    exactly but cloud-handler's, which may depend on info-broker and does not (it imports
    nothing from it; the packaging test fails a declared dependency nothing imports)."""
    deps = {p.dist: set(p.occo_deps) for p in discover(root).values()}
    base = {"occo-util"}
    assert deps["occo-util"] == set()
    assert deps["occo-compiler"] == base
    assert deps["occo-infobroker"] == base
    assert deps["occo-enactor"] == base | {"occo-compiler", "occo-infobroker"}
    assert deps["occo-infraprocessor"] == base | {"occo-infobroker"}
    assert deps["occo-cloudhandler"] == base
    assert deps["occo-servicecomposer"] == base | {"occo-infobroker"}
    below_api = {"occo-util", "occo-compiler", "occo-infobroker", "occo-enactor",
                 "occo-infraprocessor", "occo-cloudhandler", "occo-servicecomposer"}
    assert deps["occo-api"] == below_api
    assert deps["occo-demo"] == below_api | {"occo-api"}


def test_order_command_prints_util_first(root):
    out = occo_tool("order", check=True).stdout.splitlines()
    assert out[0].split()[0] == "util" and out[-1].split()[0] == "occo-demo"


def test_a_dependency_cycle_is_named(tmp_path):
    fake_package(tmp_path, "a", "occo-a", ["occo-b"])
    fake_package(tmp_path, "b", "occo-b", ["occo-c", "PyYAML"])
    fake_package(tmp_path, "c", "occo-c", ["occo-a"])
    proc = occo_tool("--root", str(tmp_path), "order")
    assert proc.returncode == 2
    assert "dependency cycle between packages:" in proc.stderr
    cycle = proc.stderr.split("packages: ", 1)[1].strip().split(" -> ")
    assert cycle[0] == cycle[-1] and set(cycle) == {"occo-a", "occo-b", "occo-c"}


def test_an_undeclared_sibling_is_an_error(tmp_path):
    fake_package(tmp_path, "a", "occo-a", ["occo-missing"])
    proc = occo_tool("--root", str(tmp_path), "order")
    assert proc.returncode == 2
    assert "depends on occo-missing, which no package directory declares" in proc.stderr


def test_no_namespace_init_anywhere_in_the_tree(root):
    assert not [p for p in root.glob("*/occo/__init__.py")]
