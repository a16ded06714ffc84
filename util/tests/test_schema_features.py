"""Schema.validate: conversions, optional keys given as null, deprecated keys with their
replacement, one-of groups, sub-schemas and case-insensitive choices."""

from __future__ import annotations

import pytest

from occo.util import Field, Schema, load_yaml_text

SCHEMA = Schema("widget", (
    Field("type", required=True),
    Field("project", required=True, coerce="str"),
    Field("tenant", coerce="str", replacement="project"),
    Field("size", "int", minimum=0, coerce="int"),
    Field("label", coerce="str"),
    Field("flag", "any", null="keep"),
    Field("strict", "str", null="reject"),
    Field("mode", choices=("public", "private"), ignore_case=True),
    Field("password"), Field("key"),
    Field("spec", "mapping", schema=Schema("widget spec", (
        Field("cpu", "int", required=True),), extra_keys=True)),
), null="unset", one_of=(("password", "key"),))

BASE = "type: w\nproject: p\npassword: x\n"


def validate(text: str):
    data = load_yaml_text(text, source="w.yaml")
    return SCHEMA.validate(data, "w")


def test_check_is_the_errors_of_validate():
    data = load_yaml_text(BASE + "size: -1\n", source="w.yaml")
    assert [str(e) for e in SCHEMA.check(data, "w")] == \
        [str(e) for e in SCHEMA.validate(data, "w").errors]


@pytest.mark.parametrize("text, key, kept", [
    ("size: '12'\n", "size", 12), ("size: ' 3 '\n", "size", 3), ("size: 4.0\n", "size", 4),
    ("label: 7\n", "label", "7"), ("project: 42\n", "project", "42"),
])
def test_values_are_converted(text, key, kept):
    checked = validate(BASE.replace("project: p\n", "") + ("" if key == "project"
                                                         else "project: p\n") + text)
    assert checked.errors == []
    assert checked.value[key] == kept


def test_a_float_read_as_text_warns_with_its_location():
    checked = validate(BASE + "label: 1.10\n")
    assert checked.value["label"] == "1.1"
    assert checked.warnings == ["w.yaml:4:8: w.label: the number 1.1 is read as the text "
                                "'1.1'; quote it if you meant another spelling (YAML drops "
                                "trailing zeros)"]


@pytest.mark.parametrize("text, message", [
    ("size: 'x'\n", "w.yaml:4:7: w.size: must be an integer >= 0, got 'x'"),
    ("size: 1.5\n", "w.yaml:4:7: w.size: must be an integer >= 0, got 1.5"),
    ("size: true\n", "w.yaml:4:7: w.size: must be an integer >= 0, got True"),
    ("label: true\n", "w.yaml:4:8: w.label: must be a string, got True"),
    ("strict: null\n", "w.yaml:4:9: w.strict: must be a string, got nothing (null)"),
    ("mode: hidden\n", "w.yaml:4:7: w.mode: must be one of 'public', 'private' (in any "
                       "case), got 'hidden'"),
])
def test_values_that_do_not_convert_are_refused(text, message):
    checked = validate(BASE + text)
    assert [str(e) for e in checked.errors] == [message]


def test_null_unsets_an_optional_key_or_is_kept_where_presence_matters():
    checked = validate(BASE + "label: null\nsize: null\nflag: null\n")
    assert checked.errors == []
    assert checked.value == {"type": "w", "project": "p", "password": "x", "flag": None}


def test_null_for_a_required_key_is_refused():
    [err] = validate(BASE.replace("project: p", "project: null")).errors
    assert str(err) == "w.yaml:2:10: w.project: must be a string, got nothing (null)"


def test_choices_ignore_case():
    assert validate(BASE + "mode: PUBLIC\n").errors == []


def test_a_deprecated_key_warns_and_names_its_replacement():
    checked = validate(BASE + "tenant: t\n")
    assert checked.errors == []
    assert checked.warnings == ["w.yaml:4:1: w.tenant: key 'tenant' of the widget is "
                                "deprecated; use 'project' instead"]


def test_a_deprecated_key_in_place_of_a_required_one_says_what_to_write():
    [err] = validate(BASE.replace("project: p", "tenant: t")).errors
    assert str(err) == ("w.yaml:1:1: w: missing required key 'project' (widget: a string); "
                        "'tenant' is deprecated: write 'project' instead")


def test_one_of_a_group_is_required():
    [err] = validate("type: w\nproject: p\n").errors
    assert str(err) == "w.yaml:1:1: w: missing key: one of 'password', 'key' is required (widget)"
    assert validate("type: w\nproject: p\nkey: k\n").errors == []
    [err] = validate("type: w\nproject: p\nkey: null\n").errors
    assert "one of 'password', 'key' is required" in str(err)


def test_a_sub_schema_checks_the_mapping_and_keeps_its_extra_keys():
    checked = validate(BASE + "spec: {cpu: 2, nics: [a]}\n")
    assert checked.value["spec"] == {"cpu": 2, "nics": ["a"]}
    [err] = validate(BASE + "spec: {nics: [a]}\n").errors
    assert str(err) == ("w.yaml:4:7: w.spec: missing required key 'cpu' (widget spec: an "
                        "integer)")
    [err] = validate(BASE + "spec: {cpu: two}\n").errors
    assert str(err) == "w.yaml:4:13: w.spec.cpu: must be an integer, got 'two'"


def test_the_value_is_the_input_when_there_are_problems():
    data = load_yaml_text(BASE + "size: -2\n", source="w.yaml")
    assert SCHEMA.validate(data, "w").value is data


def test_a_template_is_neither_converted_nor_refused():
    checked = validate(BASE + "size: '{{ x }}'\nlabel: '{{ y }}'\n")
    assert checked.errors == [] and checked.value["size"] == "{{ x }}"


@pytest.mark.parametrize("kwargs", [{"coerce": "float"}, {"null": "maybe"},
                                    {"kind": "text"}, {"items": "strs", "kind": "list"}])
def test_a_bad_declaration_is_refused_at_once(kwargs):
    with pytest.raises(ValueError):
        Field("x", **kwargs)
