"""Declarative mapping checks: located errors, suggestions, templates."""

from __future__ import annotations

from occo.util import Field, Schema, load_yaml_text

SCHEMA = Schema("resource type ec2", (
    Field("type", required=True),
    Field("image_id", required=True),
    Field("count", "int", minimum=0),
    Field("security_group_ids", "list", items="str"),
    Field("mode", choices=("a", "b")),
))


def check(text: str):
    data = load_yaml_text(text, source="defs.yaml")
    return SCHEMA.check(data["resource"], "resource", parent=data, key="resource")


def test_valid_section_has_no_problems():
    assert check("resource: {type: ec2, image_id: ami-1, count: 2}\n") == []


def test_unknown_key_suggests_the_closest():
    [err] = check("resource:\n  type: ec2\n  image_id: x\n  imgae_id: y\n")
    assert str(err) == ("defs.yaml:4:3: resource.imgae_id: unknown key 'imgae_id' in resource "
                        "type ec2; did you mean 'image_id'?")


def test_unknown_key_without_a_close_match_lists_valid_keys():
    [err] = check("resource: {type: ec2, image_id: x, zzz: 1}\n")
    assert "valid keys: type, image_id, count, security_group_ids, mode" in str(err)


def test_missing_required_and_wrong_types_are_all_reported():
    errors = check("resource:\n  count: two\n  security_group_ids: [1]\n  mode: c\n")
    text = [str(e) for e in errors]
    assert "defs.yaml:2:3: resource: missing required key 'type' (resource type ec2: a string)" \
        in text
    assert any("resource.count: must be an integer >= 0, got 'two'" in t for t in text)
    assert any("security_group_ids: must be a list of strings, got an item 1" in t for t in text)
    assert any("resource.mode: must be one of 'a', 'b', got 'c'" in t for t in text)
    assert len(errors) == 5


def test_negative_number_is_refused():
    [err] = check("resource: {type: ec2, image_id: x, count: -1}\n")
    assert "must be an integer >= 0, got -1" in str(err)


def test_templates_are_accepted_for_any_kind():
    assert check("resource: {type: ec2, image_id: x, count: '{{ variables.n }}'}\n") == []


def test_not_a_mapping():
    [err] = check("resource: [1, 2]\n")
    assert "must be a mapping (resource type ec2), got a list" in str(err)
    assert err.location.line == 1
