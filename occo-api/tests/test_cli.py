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


@pytest.mark.parametrize("argv, option, expected", [
    (["events", "--after", "-1"], "--after", "from 0 to 9007199254740991, got '-1'"),
    (["events", "--after", "٣"], "--after", "got '٣'"),
    (["events", "--after", "1e3"], "--after", "got '1e3'"),
    (["events", "--after", "9" * 40], "--after", "from 0 to"),
    (["events", "--limit", "0"], "--limit", "from 1 to 10000, got '0'"),
    (["events", "--limit", "20000"], "--limit", "from 1 to 10000, got '20000'"),
    (["scale", "-n", "web", "-c", "²"], "-c/--change", "got '²'"),
    (["scale", "-n", "web", "-s", "-2"], "-s/--to", "from 0 to"),
    (["scale", "-n", "web", "-s", "０"], "-s/--to", "got '０'"),
    (["maintain", "--interval", "nan"], "--interval", "above 0 and at most 86400, got 'nan'"),
    (["maintain", "--interval", "inf"], "--interval", "got 'inf'"),
    (["maintain", "--interval", "0"], "--interval", "got '0'"),
    (["maintain", "--interval", "-5"], "--interval", "got '-5'"),
    (["serve", "--port", "65536"], "--port", "from 0 to 65535, got '65536'"),
    (["serve", "--scaling-port", "x"], "--scaling-port", "got 'x'"),
])
def test_numbers_out_of_range_are_usage_errors_naming_the_option(capsys, argv, option,
                                                                 expected):
    with pytest.raises(SystemExit) as exc:
        main(["--state", "memory://", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: must be " in err and expected in err, err


@pytest.mark.parametrize("argv, value", [(["scale", "-n", "w", "-c", "-3"], -3),
                                        (["scale", "-n", "w", "-c", "+2"], 2),
                                        (["events", "--after", " 12 "], 12)])
def test_numbers_in_range_are_taken(argv, value):
    from occo.api.cli import build_parser
    args = build_parser().parse_args(argv)
    assert (args.change if argv[0] == "scale" else args.after) == value
