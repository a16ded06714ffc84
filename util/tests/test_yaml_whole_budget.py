"""The loader's limits hold for the whole document, the top file and all its includes
together: values and text with every alias and include expanded, nesting counted through
the include tags, bytes read. Each refusal is a LimitExceededError naming a file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from occo.util import LimitExceededError, YamlLimits, load_yaml_file, load_yaml_text


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).write_text(text)
    return root / next(iter(files))


def refused(path: Path, limits: YamlLimits | None = None) -> LimitExceededError:
    with pytest.raises(LimitExceededError) as caught:
        load_yaml_file(path, limits=limits)
    error = caught.value
    assert error.location is not None and error.location.file and error.location.line
    return error


def laughs_chain(root: Path, files: int, fan: int) -> Path:
    """f0 includes f1 once and aliases that include ``fan`` times; f1 does the same with
    f2, and so on: each file is small and expands to ``fan`` times the next, so the
    whole document expands to fan ** files values while no single file is large."""
    texts = {}
    for i in range(files):
        if i == files - 1:
            texts[f"f{i}.yaml"] = "[" + ", ".join(["x"] * fan) + "]\n"
        else:
            refs = ", ".join(["*inc"] * (fan - 1))
            texts[f"f{i}.yaml"] = (f"- &inc !yaml_import {{url: file://f{i + 1}.yaml}}\n"
                                   f"- [{refs}]\n")
    return write(root, texts)


def test_includes_that_alias_each_other_do_not_multiply(tmp_path):
    top = laughs_chain(tmp_path, files=8, fan=10)   # 10**8 values, each file ~100 bytes
    error = refused(top)
    assert "expands to more than 5000000 values through its aliases and includes" \
        in error.message


def test_each_file_alone_is_within_the_limit(tmp_path):
    # the same chain, short: the whole is small, so it loads, shared, not copied
    top = laughs_chain(tmp_path, files=3, fan=10)
    data = load_yaml_file(top)
    assert data[1][0] is data[0]            # an alias of an include is one object
    assert data[0][0] == ["x"] * 10 and data[0][1][8] is data[0][0]


def test_the_budget_is_the_whole_documents_not_the_last_files(tmp_path):
    # every file holds 300 values; 20 sibling includes of it together hold 6,000
    leaf = "[" + ", ".join(["v"] * 299) + "]\n"
    includes = "- !yaml_import {url: file://leaf.yaml}\n" * 20
    top = write(tmp_path, {"top.yaml": includes, "leaf.yaml": leaf})
    limits = YamlLimits(max_expanded_nodes=5000)
    error = refused(top, limits)
    assert "more than 5000 values" in error.message
    assert error.location.file == str(top.resolve())
    assert load_yaml_file(top, limits=YamlLimits(max_expanded_nodes=6001))[19][298] == "v"


def test_text_imported_and_aliased_counts_each_time(tmp_path):
    top = write(tmp_path, {
        "top.yaml": "key: &k !text_import {url: file://key.pem}\n"
                    "copies: [" + ", ".join(["*k"] * 64) + "]\n",
        "key.pem": "A" * 4096})
    error = refused(top, YamlLimits(max_expanded_bytes=100_000))
    assert "more than 100000 bytes of text through its aliases and includes" in error.message
    assert error.location.line == 2
    assert len(load_yaml_file(top, limits=YamlLimits(max_expanded_bytes=300_000))["copies"]) \
        == 64


def test_long_strings_aliased_in_one_document_are_bounded():
    text = "a: &s " + "x" * 1000 + "\nb: [" + ", ".join(["*s"] * 200) + "]\n"
    with pytest.raises(LimitExceededError, match="more than 150000 bytes of text") as caught:
        load_yaml_text(text, limits=YamlLimits(max_expanded_bytes=150_000))
    assert caught.value.location.line == 2


def test_depth_counts_through_includes(tmp_path):
    # each file nests 30 levels and includes the next at its bottom: 4 files, 120 levels
    files = {}
    for i in range(4):
        inner = f"!yaml_import {{url: file://d{i + 1}.yaml}}" if i < 3 else "end"
        files[f"d{i}.yaml"] = "[" * 30 + inner + "]" * 30 + "\n"
    top = write(tmp_path, files)
    error = refused(top)
    assert "nested deeper than 100 levels (counting the levels of the files that include " \
           "it)" in error.message
    assert error.location.file == str((tmp_path / "d3.yaml").resolve())
    assert load_yaml_file(top, limits=YamlLimits(max_depth=120)) is not None


def test_an_alias_used_deeper_than_written_counts_its_depth():
    nested = "[" * 60 + "x" + "]" * 60
    text = f"a: &deep {nested}\nb: " + "[" * 50 + "*deep" + "]" * 50 + "\n"
    with pytest.raises(LimitExceededError, match="nested deeper than 100 levels") as caught:
        load_yaml_text(text)
    assert caught.value.location.line == 2


def test_bytes_read_count_every_read_of_a_file(tmp_path):
    leaf = "x: " + "y" * 1000 + "\n"
    includes = "- !yaml_import {url: file://leaf.yaml}\n" * 50
    top = write(tmp_path, {"top.yaml": includes, "leaf.yaml": leaf})
    error = refused(top, YamlLimits(max_total_bytes=30_000))
    assert "files read for this description exceed 30000 bytes" in error.message


def test_a_refused_include_of_api_input_is_still_forbidden():
    from occo.util import ForbiddenTagError
    with pytest.raises(ForbiddenTagError, match="never in API input"):
        load_yaml_text("a: !yaml_import {url: file://x.yaml}\n")


def test_recursive_alias_through_a_mapping_is_refused():
    with pytest.raises(LimitExceededError, match="recursive alias"):
        load_yaml_text("a: &a {b: *a}\n")
