"""``./bootstrap.sh demo``: ``--help`` and a usage error answer at once, before env/dev
exists (the demo's command line needs the standard library only); then env/dev is made
showing what it installs, and nothing is printed when it is up to date."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT, clean_env

from occotool.devenv import dev_env
from occotool.packages import build_order, discover

FAKE_TOOL = """\
# stands for tools/occo-tool (bootstrap.sh runs it with $PYTHON): records its call, fails
import pathlib, sys
with open(pathlib.Path(__file__).parent / "called", "a") as log:
    print(*sys.argv[1:], file=log)
sys.exit(1)
"""


@pytest.fixture
def tree(tmp_path):
    """bootstrap.sh beside the real occo-demo/ and a tools/occo-tool that only records
    its calls: whatever would build env/dev shows."""
    tree = tmp_path / "tree"
    (tree / "tools").mkdir(parents=True)
    shutil.copy2(ROOT / "bootstrap.sh", tree / "bootstrap.sh")
    (tree / "occo-demo").symlink_to(ROOT / "occo-demo", target_is_directory=True)
    tool = tree / "tools" / "occo-tool"
    tool.write_text(FAKE_TOOL)
    tool.chmod(0o755)
    return tree


def bootstrap(tree, *args):
    env = clean_env(PYTHON=sys.executable, COLUMNS="100")
    started = time.monotonic()
    proc = subprocess.run([str(tree / "bootstrap.sh"), *args], text=True,
                          capture_output=True, env=env, cwd=tree.parent, timeout=60)
    return proc, time.monotonic() - started


def demo_help() -> str:
    """The demo parser's own help, as bootstrap.sh names it."""
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from occo.demo.options import build_parser\n"
            "print(build_parser('./bootstrap.sh demo').format_help(), end='')")
    return subprocess.run([sys.executable, "-I", "-S", "-c", code, str(ROOT / "occo-demo")],
                          text=True, capture_output=True, check=True,
                          env=clean_env(COLUMNS="100")).stdout


def test_demo_help_answers_without_building_anything(tree):
    proc, seconds = bootstrap(tree, "demo", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == demo_help()
    assert proc.stdout.startswith("usage: ./bootstrap.sh demo")
    for option in ("--keep", "--dir DIR", "--scale-to N", "--requests N", "--timeout"):
        assert option in proc.stdout
    assert not (tree / "tools" / "called").exists(), "the tool ran for --help"
    assert not (tree / "env").exists()
    assert seconds < 10
    with_example, _ = bootstrap(tree, "demo", "ping", "-h")
    assert with_example.returncode == 0 and with_example.stdout == proc.stdout


def test_demo_usage_error_answers_without_building_anything(tree):
    proc, _ = bootstrap(tree, "demo", "--scale-to", "9")
    assert proc.returncode == 2
    assert "--scale-to must be between 2 and 6" in proc.stderr
    assert not (tree / "tools" / "called").exists()


def test_demo_makes_env_dev_quietly_before_running(tree):
    proc, _ = bootstrap(tree, "demo", "ping")
    assert proc.returncode == 1   # the stand-in tool failed: bootstrap.sh stops there
    assert (tree / "tools" / "called").read_text() == "dev --quiet\n"


@pytest.mark.slow
def test_env_dev_shows_what_it_installs_and_nothing_when_up_to_date(tmp_path, capsys):
    order = build_order(discover(ROOT))
    target = tmp_path / "dev"
    lines: list[str] = []
    dev_env(ROOT, order, show=lines.append, venv_dir=target)
    built = ", ".join(pkg.directory for pkg in order)
    assert lines[0].startswith(f"making {target} (the first time takes a minute or two): "
                               f"the OCCO packages editable, in build order ({built}")
    assert built.startswith("util, ")
    for pkg in order:
        assert any(line.strip().startswith(f"+ {pkg.dist}==") for line in lines), pkg.dist
    assert any(line.strip().startswith("Installed ") for line in lines)
    assert not any(line.strip().startswith("+ pyyaml==") for line in lines), \
        "one line per pinned distribution is left out"
    assert lines[-1].startswith(f"{target} is ready (")
    assert (target / "bin" / "occo").is_file()

    again: list[str] = []
    dev_env(ROOT, order, show=again.append, venv_dir=target)
    assert again == [f"{target} is up to date"]
    capsys.readouterr()
    dev_env(ROOT, order, show=None, venv_dir=target)   # what `dev --quiet` does
    assert capsys.readouterr().out == ""
