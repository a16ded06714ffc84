"""The corpus of bad inputs: each must fail with exactly the errors it expects, located.

Each directory under corpus/ holds an infra.yaml (and usually nodes/node_definitions.yaml)
and an expect.yaml listing, in order, the errors compiling it must give: their class,
file, line, column, YAML path and message. Compiling must have no side effect: nothing
is written in the corpus directory or in the working directory. Hostile documents that
are too big to keep in the repository (very large, very deep, alias bombs) are made here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PLUGINS, compile_errors

from occo.compiler import CompileErrors, compile_infrastructure
from occo.util import LimitExceededError, load_yaml_text

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_reported_with_its_location(case, tmp_path, monkeypatch):
    directory = (CORPUS / case).resolve()
    expect = load_yaml_text((directory / "expect.yaml").read_text())
    monkeypatch.chdir(tmp_path)  # a hostile file that ran a command would write here
    before = snapshot(directory)
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(directory / "infra.yaml", **PLUGINS, **expect.get("options", {}))
    found = [{"type": type(err).__name__,
              "file": str(Path(err.location.file).relative_to(directory))
              if err.location and err.location.file else None,
              "line": err.location.line if err.location else None,
              "column": err.location.column if err.location else None,
              "path": err.location.path if err.location else None,
              "message": err.message.replace(str(directory), "{dir}")}
             for err in caught.value.errors]
    assert found == expect["errors"]
    text = str(caught.value)
    count = len(expect["errors"])
    assert text.splitlines()[0] == f"{count} error{'s' if count != 1 else ''}:"
    for err in caught.value.errors:
        assert str(err) in text
        assert str(err.location) in str(err)  # "file:line:col: path: message"
    assert snapshot(directory) == before
    assert list(tmp_path.iterdir()) == []


def test_python_object_tag_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = compile_errors(tmp_path, "infra_name: x\nnodes: !!python/object/apply:os.system "
                                   "['touch SIDE_EFFECT']\n")
    assert type(err.errors[0]).__name__ == "ForbiddenTagError"
    assert not (tmp_path / "SIDE_EFFECT").exists()


def test_very_large_document_is_refused_before_parsing(tmp_path):
    big = "infra_name: big\nnodes:\n" + "".join(
        f"  - {{name: n{i}, type: web_node}}\n" for i in range(560_000))
    assert len(big) > 16 * 1024 * 1024
    err = compile_errors(tmp_path, big)
    (only,) = err.errors
    assert isinstance(only, LimitExceededError)
    assert "bytes; the limit is 16777216" in only.message
    assert only.location.file == str(tmp_path / "infra.yaml")


def test_very_deep_document_is_refused(tmp_path):
    deep = "infra_name: deep\nvariables: " + "[" * 5000 + "]" * 5000 + "\nnodes: []\n"
    err = compile_errors(tmp_path, deep)
    (only,) = err.errors
    assert isinstance(only, LimitExceededError)
    assert "nested deeper than 100 levels" in only.message
    assert (only.location.line, only.location.file) == (2, str(tmp_path / "infra.yaml"))


def test_alias_bomb_is_refused(tmp_path):
    lines = ["infra_name: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    lines.append("nodes: *a8")
    err = compile_errors(tmp_path, "\n".join(lines) + "\n")
    (only,) = err.errors
    assert isinstance(only, LimitExceededError)
    assert "expands to more than" in only.message


def test_errors_are_reported_together_up_to_the_limit(tmp_path):
    nodes = "".join(f"  - {{name: N_{i}, type: web_node}}\n" for i in range(80))
    err = compile_errors(tmp_path, "infra_name: many\nnodes:\n" + nodes, error_limit=50)
    assert len(err.errors) == 50 and err.truncated == 30
    assert str(err).splitlines()[0] == "80 errors:"
    assert str(err).splitlines()[-1] == "  ... and 30 more"
    assert err.errors[0].location.line == 3 and err.errors[49].location.line == 52


def test_api_mapping_errors_carry_the_yaml_path_only():
    data = {"infra_name": "api", "nodes": [{"name": "web", "type": "web_node",
                                             "scaling": {"min": -2}}]}
    defs = {"web_node": [{"resource": {"type": "dummy"}}]}
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(data, defs, **PLUGINS)
    (only,) = caught.value.errors
    assert only.location.file is None and only.location.line is None
    assert str(only) == "nodes[0].scaling.min: must be an integer >= 0, got -2"


def test_api_text_refuses_include_tags():
    with pytest.raises(Exception) as caught:
        load_yaml_text("infra_name: x\nnodes: !yaml_import {url: file:///etc/passwd}\n")
    assert "include tags work only in files read from disk" in str(caught.value)
