"""The static template scan: node references and syntax errors, with their places."""

from __future__ import annotations

from occo.compiler._templates import TemplateScanner
from occo.util import load_yaml_text


def test_constant_references_are_found_with_their_place():
    data = load_yaml_text("a:\n  - \"{{ getip('db') }}\"\n  - b: |\n      x\n"
                          "      {{ getipall('web') | join(',') }} {{ find_node_id(\"q\") }}\n"
                          "c: \"{{ getprivip('db') }}\"\n", source="t.yaml")
    errors: list = []
    refs = TemplateScanner().scan(data, "", errors=errors)
    assert errors == []
    assert [(r.function, r.target, r.line, str(r.location)) for r in refs] == [
        ("getip", "db", 1, "t.yaml:2:5: a[0]"),
        ("getipall", "web", 2, "t.yaml:3:8: a[1].b"),
        ("find_node_id", "q", 2, "t.yaml:3:8: a[1].b"),
        ("getprivip", "db", 1, "t.yaml:6:4: c"),
    ]


def test_computed_raw_and_other_calls_are_not_references():
    scanner = TemplateScanner()
    text = ("{{ getip(variables.target) }}{% raw %}{{ getip('x') }}{% endraw %}"
            "{{ cut(infra_id, 0, 4) }}{{ other('y') }}{{ getip(1) }}")
    # not node references; the unknown name and the variable are reported as such
    assert [(r.function, r.target) for r in scanner.scan({"k": text}, "")] == [
        ("name", "other"), ("variables", "target")]


def test_syntax_errors_are_reported_and_parsing_is_cached():
    scanner = TemplateScanner()
    errors: list = []
    data = {"a": "ok {{ x }", "b": "ok {{ x }", "c": "${#array[@]}", "d": "plain text"}
    assert scanner.scan(data, "root", errors=errors) == []
    assert [(str(e.location), e.message) for e in errors] == [
        ("root.a", "template syntax error at template line 1: unexpected '}'"),
        ("root.b", "template syntax error at template line 1: unexpected '}'"),
        ("root.c", "template syntax error at template line 1: Missing end of comment tag"),
    ]
    assert len(scanner._cache) == 2  # the same text is parsed once; plain text never


def test_names_from_the_context_and_variable_paths_are_reported_unless_guarded():
    scanner = TemplateScanner()
    text = ("{{ variables.db.port }} {{ foo }} {% if bar is defined %}{{ bar }}{% endif %}"
            "{% set mine = 1 %}{{ mine }}{{ range(2) | list }}{{ baz | default('x') }}"
            "{{ variables['a'].b | default(1) }}{{ variables.c.upper() }}\n{{ ip }}"
            "{% for i in getipall(db) %}{{ i }}{% endfor %}{{ getip(db) }}")
    found = [(r.function, r.target, r.line) for r in scanner.scan({"k": text}, "")]
    assert found == [("getipall", "db", 2), ("getip", "db", 2), ("name", "foo", 1),
                     ("name", "ip", 2), ("variables", "db.port", 1),
                     ("variables", "c.upper", 1)]


def test_a_bare_name_used_elsewhere_too_is_still_a_name():
    found = [(r.function, r.target) for r in
             TemplateScanner().scan({"k": "{{ getip(db) }} {{ db }}"}, "")]
    assert found == [("getip", "db"), ("name", "db")]
