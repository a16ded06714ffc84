"""The static checks: each can fail, and mypy's configuration covers every package."""

from __future__ import annotations

import configparser
from pathlib import Path

from occotool import static
from occotool.packages import discover

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_fails_on_a_finding_and_names_the_rule_and_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f():\n    try:\n        return 1\n"
                   "    except KeyError:\n        raise ValueError('x')\n")
    outcome = static.check_lint(ROOT, [bad])
    assert (outcome.passed, outcome.failed) == (0, 1)
    text = "\n".join(outcome.notes)
    assert "bad.py:1:8: F401" in text and "bad.py:8:9: B904" in text


def test_ruff_passes_a_clean_file(tmp_path):
    good = tmp_path / "good.py"
    good.write_text("def f() -> int:\n    return 1\n")
    outcome = static.check_lint(ROOT, [good])
    assert (outcome.passed, outcome.failed, outcome.notes) == (1, 0, [])


def test_mypy_path_names_every_package_directory():
    config = configparser.ConfigParser()
    config.read(ROOT / static.MYPY_CONFIG)
    listed = config["mypy"]["mypy_path"].split(":")
    assert sorted(listed) == sorted(p.directory for p in discover(ROOT).values())
