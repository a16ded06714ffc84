"""The node's ``update`` section: the limits of a rolling replacement (an OCCO extension)."""

from __future__ import annotations

import pytest
from conftest import compile_errors, compile_files

from occo.compiler import StaticDescription, Update

HEAD = "infra_name: rolling\nnodes:\n"


def _node(update: str | None) -> str:
    line = "  - {name: a, type: db_node, scaling: {min: 3}"
    return line + (f", update: {update}}}\n" if update is not None else "}\n")


def test_the_default_replaces_one_at_a_time_and_keeps_the_count(tmp_path):
    desc = compile_files(tmp_path, HEAD + _node(None))
    assert desc.node("a").update == Update(max_surge=1, max_unavailable=0)
    # the default is not written, so descriptions stored before the key exist compare equal
    assert "update" not in desc.node("a").to_dict()


def test_limits_are_read_and_survive_the_dict_form(tmp_path):
    desc = compile_files(tmp_path, HEAD + _node("{max_surge: 3, max_unavailable: 2}"))
    assert desc.node("a").update == Update(max_surge=3, max_unavailable=2)
    again = StaticDescription.from_dict(desc.to_dict())
    assert again.node("a").update == Update(max_surge=3, max_unavailable=2)


def test_a_settle_time_is_read(tmp_path):
    desc = compile_files(tmp_path, HEAD + _node("{min_ready_seconds: 2.5}"))
    assert desc.node("a").update == Update(min_ready_seconds=2.5)
    again = StaticDescription.from_dict(desc.to_dict())
    assert again.node("a").update.min_ready_seconds == 2.5


def test_one_limit_given_keeps_the_other_default(tmp_path):
    desc = compile_files(tmp_path, HEAD + _node("{max_unavailable: 1}"))
    assert desc.node("a").update == Update(max_surge=1, max_unavailable=1)


@pytest.mark.parametrize("update, path, words", [
    ("{max_surge: -1}", "nodes[0].update.max_surge", ">= 0"),
    ("{max_surge: two}", "nodes[0].update.max_surge", "int"),
    ("{max_unavailable: 1.5}", "nodes[0].update.max_unavailable", "int"),
    ("{surge: 1}", "nodes[0].update.surge", "max_surge"),          # a near miss is named
    ("[1, 2]", "nodes[0].update", "mapping"),
    ("{max_surge: 0, max_unavailable: 0}", "nodes[0].update", "must not both be 0"),
    ("{min_ready_seconds: -2}", "nodes[0].update.min_ready_seconds", ">= 0"),
    ("{min_ready_seconds: 99999}", "nodes[0].update.min_ready_seconds", "at most 3600"),
    ("{min_ready_seconds: soon}", "nodes[0].update.min_ready_seconds", "number"),
])
def test_bad_limits_are_located_errors(tmp_path, update, path, words):
    errors = compile_errors(tmp_path, HEAD + _node(update))
    assert len(errors.errors) == 1, [str(e) for e in errors.errors]
    error = errors.errors[0]
    loc = error.location
    assert loc.file == str(tmp_path / "infra.yaml") and loc.line == 3
    assert loc.path == path, loc
    assert words in error.message, error.message
    assert error.exit_code == 2
