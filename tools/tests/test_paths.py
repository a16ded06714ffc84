"""The machine-path check: what it flags, what it lets pass, and that the tree is clean."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, occo_tool

from occotool.paths import find_machine_paths

# The inputs are put together at run time: written out, this file would hold them itself.
ALICE = "/" + "home/alice/"
BOB = "/" + "Users/bob/"
JOINED = '"shared"' + ' / "fixtures"'
BESIDE = "../" + "shared/fixtures"


def _tree(base: Path, files: dict[str, str]) -> Path:
    root = base / "checkout"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_paths_of_this_machine_and_of_others_are_found(tmp_path):
    home = Path.home()
    in_home = sorted(p.name for p in home.iterdir())[0] if home.is_dir() else None
    root = _tree(tmp_path, {
        "a/test_one.py": f"DATA = '{tmp_path}/checkout/a/data.yaml'\n",
        "b/conftest.py": f"SIBLING = '{tmp_path}/elsewhere/x'\n",
        "c/notes.rst": f"see {ALICE}project/file and {BOB}x\n",
        "d/test_beside.py": f'T = ROOT.parent / {JOINED}\nU = "{BESIDE}/x"\n',
        **({"e/run.sh": f"cat {home}/{in_home}\n"} if in_home else {}),
    })
    found = "\n".join(find_machine_paths(root))
    assert f"a/test_one.py:1: '{tmp_path}/checkout'" in found
    assert f"b/conftest.py:1: '{tmp_path}/'" in found
    assert f"c/notes.rst:1: '{ALICE}'" in found
    assert f"d/test_beside.py:1: '{JOINED}'" in found
    assert f"d/test_beside.py:2: '{BESIDE}'" in found
    if in_home:
        assert f"e/run.sh:1: '{home}/{in_home}'" in found


def test_paths_that_belong_to_no_machine_pass(tmp_path):
    root = _tree(tmp_path, {
        "a/test_docker.py": "command = 'sh -c /root/no-such-start-script.sh'\n",
        "b/test_include.py": "x = '!yaml_import {url: file://../shared.yaml}'\n",
        "c/guide.rst": "OCCO_TUTORIALS=/path/to/occopus-tutorials, /tmp/x, /etc/hosts\n",
        "d/notes.rst": f"the CI machine lays {BESIDE} beside the checkout\n",
    })
    assert find_machine_paths(root) == []


def test_the_tree_names_no_machine_path():
    proc = occo_tool("check-paths")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "no absolute path of a machine in the tree"
    assert find_machine_paths(ROOT) == []
