"""The `occo` console script answers --version and --help."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

from occo.api import __version__
from occo.api.cli import main


def run_occo(*args):
    return subprocess.run([sys.executable, "-c", "import sys; from occo.api.cli import main; "
                           "sys.exit(main())", *args], text=True, capture_output=True)


def test_version_names_every_component():
    proc = run_occo("--version")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == f"occo {__version__}"
    assert f"  occo-util {version('occo-util')}" in lines


def test_help_describes_the_command():
    proc = run_occo("--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: occo")
    assert "keeps them alive" in proc.stdout


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["list", "--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
