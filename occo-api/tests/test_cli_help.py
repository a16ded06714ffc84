"""Every subcommand's help teaches: a paragraph on what it does and examples that the
parser accepts as written; the docs show the same text."""

from __future__ import annotations

import argparse
import shlex

import pytest

from occo.api.cli import build_parser
from occo.api.cli_help import COMMANDS


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_subcommand_has_a_description_and_examples():
    commands = subcommands()
    assert set(commands) == set(COMMANDS), "a subcommand without help text, or help for none"
    for name, parser in commands.items():
        assert len(parser.description or "") > 60, name
        assert (parser.epilog or "").startswith("examples:"), name
        assert len(COMMANDS[name][1]) >= 2, name


@pytest.mark.parametrize("line", [c for _, (_, ex) in sorted(COMMANDS.items()) for c, _ in ex])
def test_each_example_is_accepted_as_written(line, capsys):
    words = shlex.split(line)
    assert words[0] == "occo"
    if words[1:] == ["--version"]:
        with pytest.raises(SystemExit) as info:
            build_parser().parse_args(words[1:])
        assert info.value.code == 0
        return
    args = build_parser().parse_args(words[1:])
    assert args.command in COMMANDS


def test_help_prints_the_paragraph_and_the_examples(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["scale", "--help"])
    text = capsys.readouterr().out
    assert "Scale one node of an infrastructure" in text
    assert "examples:\n  occo scale -i web-cluster -n app -c +2\n" in text


def test_log_lines_and_warnings_share_one_style(capsys):
    import io
    import logging

    from occo.api.notices import notice
    from occo.util import setup_logging

    stream = io.StringIO()
    handler = setup_logging(logging.WARNING, stream=stream, command="occo")
    try:
        logging.getLogger("occo.enactor").warning("state poll of %s failed", "dummy:x")
        notice(stream, "warning", "app: 6 instances requested, clamped to 3")
    finally:
        logging.getLogger("occo").removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "occo: warning: state poll of dummy:x failed",
        "occo: warning: app: 6 instances requested, clamped to 3"]


def test_with_json_log_lines_are_json_objects():
    import io
    import json
    import logging

    from occo.util import setup_logging

    stream = io.StringIO()
    handler = setup_logging(logging.INFO, stream=stream, command="occo", json_lines=True)
    try:
        logging.getLogger("occo.enactor").info("healed %d", 2)
    finally:
        logging.getLogger("occo").removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "occo.enactor",
                                                                "healed 2")
