"""Occopus 1.10's description rules (issue 15): names, dependencies and mappings with
their extra keys, and templates checked for undefined names at compile time."""

from __future__ import annotations

import pytest
from conftest import compile_errors, compile_files

DEFS = """\
'node_def:t':
  - resource: {type: dummy}
'node_def:tpl':
  - resource: {type: dummy}
    contextualisation:
      type: cloudinit
      context_template: |
        #cloud-config
        runcmd: ["echo {{ getip('DB') }} {{ variables.port }}"]
"""


def infra(nodes: str, extra: str = "", name: str = "compat") -> str:
    return f"infra_name: {name}\nnodes:\n{nodes}{extra}"


@pytest.mark.parametrize("name", ["A", "GENERATOR", "MyInfra", "a.b.c", "x-1", "1a",
                                  "db.", "a" * 63, ".".join(["a" * 63] * 3) + ".abc"])
def test_occopus_hostname_rule_accepts(tmp_path, name):
    desc = compile_files(tmp_path, infra(f"  - {{name: '{name}', type: t}}\n", name=f"'{name}'"),
                         DEFS)
    assert desc.infra_name == name and desc.node_names == (name,)


@pytest.mark.parametrize("name, hint", [
    ("My_Infra", "(e.g. 'My-Infra')"), ("-a", "(e.g. 'a')"), ("a-", "(e.g. 'a')"),
    ("a..b", "(e.g. 'a.b')"), ("Web Server", "(e.g. 'Web-Server')"), ("a" * 64, ""),
    ("x" * 250 + ".abcdef", ""), ("é", ""), ("a\n", "")])
def test_occopus_hostname_rule_refuses_with_a_located_message(tmp_path, name, hint):
    err = compile_errors(tmp_path, infra("  - {name: ok, type: t}\n",
                                         name=repr(name).replace("\\n", "\\n")), DEFS)
    (only,) = err.errors
    assert only.location.line == 1 and only.location.path == "infra_name"
    assert "is not a valid infra_name: use dot-separated labels of 1 to 63 letters" in str(only)
    assert hint in only.message


def test_names_are_exact_so_A_and_a_are_two_nodes(tmp_path):
    desc = compile_files(tmp_path, infra("  - {name: A, type: t}\n  - {name: a, type: t}\n",
                                         "dependencies:\n  - [a, A]\n"), DEFS)
    assert desc.dependencies_of("a") == ("A",) and desc.dependencies_of("A") == ()


def test_a_reference_in_the_wrong_case_is_unknown_with_a_hint(tmp_path):
    err = compile_errors(tmp_path, infra("  - {name: Master, type: t}\n  - {name: w, type: t}\n",
                                         "dependencies:\n  - [w, master]\n"), DEFS)
    (only,) = err.errors
    assert "dependency on unknown node 'master'; did you mean 'Master'?" in str(only)
    assert only.location.line == 6


def test_extra_keys_of_dependencies_and_mappings_are_kept(tmp_path):
    desc = compile_files(tmp_path, infra(
        "  - &DB {name: DB, type: t}\n  - &APP {name: app, type: t}\n",
        "dependencies:\n"
        "  - connection: [*APP, *DB]\n"
        "    weight: 3\n"
        "    mappings:\n"
        "      - {attributes: [port, app.db.port], synch: true, note: keep me}\n"
        "      - [ip, app.db.host]\n"), DEFS)
    edge = desc.edge("app", "DB").to_dict()
    assert edge["extra"] == {"weight": 3}
    assert edge["mappings"] == [
        {"attributes": ["port", "app.db.port"], "synch": True, "extra": {"note": "keep me"}},
        {"attributes": ["ip", "app.db.host"], "synch": False}]
    assert desc.edge("app", "DB").mappings[0].occopus_form() == {
        "note": "keep me", "attributes": ["port", "app.db.port"], "synch": True}


def test_a_misspelt_key_beside_connection_is_kept_with_a_warning(tmp_path):
    desc = compile_files(tmp_path, infra(
        "  - {name: db, type: t}\n  - {name: app, type: t}\n",
        "dependencies:\n  - connection: [app, db]\n    mapings: [[a, b]]\n"), DEFS)
    (warning,) = desc.warnings
    assert warning.endswith("key 'mapings' of a dependency is kept as an extra key (Occopus "
                            "passes such keys on); did you mean 'mappings'?")
    assert "infra.yaml:7:5" in warning


def test_a_misspelt_connection_is_refused_with_its_hint(tmp_path):
    err = compile_errors(tmp_path, infra("  - {name: db, type: t}\n  - {name: app, type: t}\n",
                                         "dependencies:\n  - conection: [app, db]\n"), DEFS)
    assert [e.message for e in err.errors] == [
        "missing required key 'connection' (dependency: a list)",
        "unknown key 'conection' in dependency; did you mean 'connection'?"]


@pytest.mark.parametrize("deps", ["dependencies: []\n", "dependencies: {}\n", ""])
def test_no_dependencies_in_every_occopus_form(tmp_path, deps):
    desc = compile_files(tmp_path, infra("  - {name: a, type: t}\n  - {name: b, type: t}\n",
                                         deps), DEFS)
    assert desc.edges == ()


def test_a_mapping_of_dependencies_with_keys_is_refused(tmp_path):
    err = compile_errors(tmp_path, infra("  - {name: a, type: t}\n  - {name: b, type: t}\n",
                                         "dependencies:\n  a: b\n"), DEFS)
    (only,) = err.errors
    assert only.location.line == 6
    assert "dependencies must be a list of edges (an empty mapping means none)" in only.message


def test_indirect_getip_needs_no_inferred_edge(tmp_path):
    desc = compile_files(tmp_path, infra(
        "  - {name: DB, type: t}\n  - {name: app, type: t}\n"
        "  - {name: web, type: tpl, variables: {port: 80}}\n",
        "dependencies:\n  - [web, app]\n  - [app, DB]\n"), DEFS)
    assert desc.warnings == () and desc.dependencies_of("web") == ("app",)


def test_an_undefined_variable_is_found_at_compile_time(tmp_path):
    err = compile_errors(tmp_path, infra(
        "  - {name: DB, type: t}\n  - {name: web, type: tpl, variables: {prot: 80}}\n",
        "dependencies:\n  - [web, DB]\n"), DEFS)
    (only,) = err.errors
    assert only.location.file.endswith("node_definitions.yaml") and only.location.line == 7
    assert ("node 'web' (type 'tpl'): a template uses variables.port (template line 2), "
            "but variables has no "
            "'port'; did you mean 'prot'?") in only.message


UNKNOWN = """\
'node_def:t':
  - resource: {type: dummy, zone: "{{ nmae }}"}
    health_check: {urls: ["http://{{ ip }}/{{ variables.path | default('') }}"]}
    contextualisation:
      type: cloudinit
      context_template: "{{ ibget('x') }} {{ cmd('date') }} {{ ip }} {{ name }}"
"""


def test_unknown_and_refused_names_are_found_at_compile_time(tmp_path):
    err = compile_errors(tmp_path, infra("  - {name: a, type: t}\n"), UNKNOWN)
    messages = [(e.location.line, e.message) for e in err.errors]
    assert messages[0][0] == 2 and messages[0][1].startswith(
        "a template uses 'nmae', but there is no template name 'nmae'; did you mean 'name'?")
    assert "an undefined name fails the build" in messages[0][1]
    assert messages[1] == (6, "a template uses Occopus's 'cmd', which OCCO refuses: it ran a "
                              "shell command on the orchestrator; compute the value in the "
                              "node's own start-up script, or pass it in variables")
    assert messages[2][0] == 6 and messages[2][1].startswith("a template uses Occopus's 'ibget'")
    assert "use getip(), getprivip(), getipall() or find_node_id()" in messages[2][1]
    assert messages[3] == (6, "a template uses 'ip', but 'ip' is defined only in health_check "
                              "sections (an undefined name fails the build; test it with 'is "
                              "defined' or give it a '| default(...)')")
    assert len(messages) == 4  # ip in health_check, name, guarded variables.path: fine
