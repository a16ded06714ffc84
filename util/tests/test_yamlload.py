"""Safe YAML loading: include tags, confinement, forbidden tags, limits, locations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from occo.util import (
    ForbiddenTagError,
    IncludeError,
    InputError,
    LimitExceededError,
    LocatedDict,
    LocatedList,
    YamlLimits,
    YAMLSyntaxError,
    load_yaml_file,
    load_yaml_text,
    location_of,
)
from occo.util.testing import CORPUS, corpus, tutorials, tutorials_missing

TUTORIALS = tutorials()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_values_carry_file_line_and_column(tmp_path):
    f = write(tmp_path / "infra.yaml", "infra_name: x\nnodes:\n  - name: db\n    type: t\n")
    data = load_yaml_file(f)
    assert isinstance(data, LocatedDict) and isinstance(data["nodes"], LocatedList)
    loc = location_of(data["nodes"][0], "type", path="nodes[0].type")
    assert (loc.file, loc.line, loc.column, loc.path) == (str(f), 4, 11, "nodes[0].type")
    assert str(loc) == f"{f}:4:11: nodes[0].type"
    key_loc = location_of(data, "nodes", of_key=True)
    assert (key_loc.line, key_loc.column) == (2, 1)


def test_aliases_resolve_to_the_same_object(tmp_path):
    f = write(tmp_path / "i.yaml", "nodes:\n  - &A {name: a}\ndeps:\n  - [*A, *A]\n")
    data = load_yaml_file(f)
    assert data["deps"][0][0] is data["nodes"][0]


def test_yaml_import_splices_relative_to_the_including_file(tmp_path):
    write(tmp_path / "nodes" / "ci.yaml", "runcmd: [echo hi]\n")
    f = write(tmp_path / "nodes" / "defs.yaml",
              "ctx: !yaml_import {url: file://ci.yaml}\n")
    data = load_yaml_file(f, root=tmp_path)
    assert data["ctx"] == {"runcmd": ["echo hi"]}
    # the spliced values remember their own file
    assert location_of(data["ctx"], "runcmd").file == str(tmp_path / "nodes" / "ci.yaml")


def test_text_import_gives_the_file_text(tmp_path):
    write(tmp_path / "key.pem", "-----BEGIN KEY-----\nabc\n")
    f = write(tmp_path / "auth.yaml", "key: !text_import\n  url: file://key.pem\n")
    assert load_yaml_file(f)["key"] == "-----BEGIN KEY-----\nabc\n"


def test_include_that_leaves_the_tree_is_rejected(tmp_path):
    write(tmp_path / "secret.txt", "s3cret")
    f = write(tmp_path / "desc" / "infra.yaml", "x: !text_import {url: file://../secret.txt}\n")
    with pytest.raises(IncludeError) as err:
        load_yaml_file(f)
    assert "leaves the description's directory" in str(err.value)
    assert err.value.location.line == 1 and err.value.location.file == str(f.resolve())


def test_include_outside_allowed_when_configured(tmp_path):
    write(tmp_path / "shared.yaml", "a: 1\n")
    f = write(tmp_path / "desc" / "infra.yaml", "x: !yaml_import {url: file://../shared.yaml}\n")
    assert load_yaml_file(f, allow_outside=True) == {"x": {"a": 1}}


def test_absolute_include_path_is_confined_too(tmp_path):
    f = write(tmp_path / "infra.yaml", "x: !text_import {url: file:///etc/passwd}\n")
    with pytest.raises(IncludeError, match="leaves the description's directory"):
        load_yaml_file(f)


def test_include_loop_is_reported(tmp_path):
    write(tmp_path / "a.yaml", "b: !yaml_import {url: file://b.yaml}\n")
    write(tmp_path / "b.yaml", "a: !yaml_import {url: file://a.yaml}\n")
    with pytest.raises(IncludeError, match="include loop: a.yaml -> b.yaml -> a.yaml"):
        load_yaml_file(tmp_path / "a.yaml")


def test_missing_include_names_the_file(tmp_path):
    f = write(tmp_path / "i.yaml", "x: !yaml_import {url: file://nope.yaml}\n")
    with pytest.raises(IncludeError, match="file not found: .*nope.yaml") as err:
        load_yaml_file(f)
    assert err.value.location.line == 1


def test_include_needs_a_file_url(tmp_path):
    f = write(tmp_path / "i.yaml", "x: !yaml_import {url: 'http://example.org/x.yaml'}\n")
    with pytest.raises(IncludeError, match=r"needs url: file://<path>"):
        load_yaml_file(f)


@pytest.mark.parametrize("text, tag", [
    ("x: !!python/object/apply:os.system ['touch {marker}']\n", "python/object/apply:os.system"),
    ("x: !!python/name:os.system\n", "python/name:os.system"),
    ("x: !python_import [os]\n", "!python_import"),
    ("x: !ResourceHandler {protocol: null}\n", "!ResourceHandler"),
])
def test_forbidden_tags_are_rejected_without_side_effects(tmp_path, text, tag):
    marker = tmp_path / "pwned"
    f = write(tmp_path / "i.yaml", text.replace("{marker}", str(marker)))
    with pytest.raises(ForbiddenTagError) as err:
        load_yaml_file(f)
    assert tag in str(err.value) and "is not allowed" in str(err.value)
    assert err.value.location.line == 1
    assert not marker.exists()


def test_api_input_refuses_include_tags():
    with pytest.raises(ForbiddenTagError, match="never in API input"):
        load_yaml_text("x: !text_import {url: file:///etc/passwd}\n", source="<request>")


def test_syntax_error_is_located():
    with pytest.raises(YAMLSyntaxError) as err:
        load_yaml_text("a: [1, 2\nb: 3\n", source="body.yaml")
    assert err.value.location.file == "body.yaml"
    assert err.value.location.line is not None
    assert str(err.value).startswith("body.yaml:")


def test_duplicate_keys_are_an_error():
    with pytest.raises(InputError, match="duplicate key 'a'") as err:
        load_yaml_text("a: 1\nb: 2\na: 3\n", source="d.yaml")
    assert err.value.location.line == 3


def test_merge_keys_still_work():
    data = load_yaml_text("base: &B {x: 1, y: 2}\nnode:\n  <<: *B\n  y: 3\n")
    assert data["node"] == {"x": 1, "y": 3}


def test_too_deep_document_is_rejected():
    text = "a: " + "[" * 150 + "]" * 150 + "\n"
    with pytest.raises(LimitExceededError, match="nested deeper than 100"):
        load_yaml_text(text)


def test_billion_laughs_is_rejected_quickly():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(LimitExceededError, match="expands to more than"):
        load_yaml_text("\n".join(lines) + "\n")


def test_recursive_alias_is_rejected():
    with pytest.raises(LimitExceededError, match="recursive alias"):
        load_yaml_text("a: &a [*a]\n")


def test_oversized_file_is_rejected(tmp_path):
    f = write(tmp_path / "big.yaml", "x: " + "y" * 2000 + "\n")
    with pytest.raises(LimitExceededError, match="the limit is 1000"):
        load_yaml_file(f, limits=YamlLimits(max_file_bytes=1000))


def test_timestamps_stay_strings_so_data_is_json_able():
    data = load_yaml_text("when: 2024-01-02\nat: 2024-01-02T03:04:05Z\n")
    assert data == {"when": "2024-01-02", "at": "2024-01-02T03:04:05Z"}
    json.dumps(data)


def test_missing_top_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_yaml_file(tmp_path / "absent.yaml")


def test_every_corpus_file_loads():
    """Every YAML file of OCCO's corpus loads safely, but Occopus's configuration (below)."""
    files = sorted(p for p in CORPUS.rglob("*.yaml") if p.name != "occopus_config.yaml")
    assert len(files) == 28
    assert {p.parent.name for p in files} >= {"_occopus", "nodes", "variables"}
    for path in files:
        assert load_yaml_file(path) is not None, path


def test_the_corpus_include_tags_splice_text_and_mappings():
    board = load_yaml_file(corpus("bulletin-board", "nodes", "node_definitions.yaml"))
    text = board["node_def:board_frontend"][0]["contextualisation"]["context_template"]
    assert isinstance(text, str) and text.startswith("#cloud-config\n")  # !text_import
    assert "store = {{ getip('store') }}:{{ variables.store_port }}\n" in text
    lab = load_yaml_file(corpus("notebook-lab", "nodes", "node_definitions.yaml"))
    hub = lab["node_def:notebook_hub"][0]["contextualisation"]["context_template"]
    assert hub["runcmd"] == [["systemctl", "start", "notebook-hub"]]  # !yaml_import
    imported = corpus("notebook-lab", "nodes", "cloud_init_hub.yaml")
    loc = location_of(hub, "runcmd")
    assert (loc.file, loc.line, loc.column) == (str(imported), 19, 3)
    infra = load_yaml_file(corpus("inline-templates", "infra-inline-templates.yaml"))
    assert infra["variables"] == {"site": "corpus.example",
                                  "cache": {"size_mb": 128, "policy": "lru"}}
    assert location_of(infra["variables"], "cache").file == \
        str(corpus("inline-templates", "variables", "common.yaml"))


def test_the_corpus_occopus_configuration_is_refused_as_it_imports_python():
    """occopus_config.yaml runs !python_import by design: occo-api reads it, not this loader."""
    with pytest.raises(ForbiddenTagError) as err:
        load_yaml_file(corpus("_occopus", "occopus_config.yaml"))
    assert "!python_import" in str(err.value)
    assert (err.value.location.line, err.value.location.column) == (3, 10)


@pytest.mark.skipif(TUTORIALS is None, reason=str(tutorials_missing()))
def test_every_occopus_tutorial_file_loads():
    """Occopus's configuration (_occopus/) is excluded: it runs !python_import by design."""
    files = [p for p in TUTORIALS.rglob("*.yaml") if p.parent.name != "_occopus"]
    assert len(files) > 20
    for path in files:
        load_yaml_file(path)
