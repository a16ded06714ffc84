"""compile_infrastructure() and load_node_definitions(): what a good description becomes."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import DEFS, PLUGINS, compile_errors, compile_files, write_tree

from occo.compiler import (
    AttributeMapping,
    CompileErrors,
    NodeDefinition,
    Scaling,
    TemplateReferenceError,
    UnknownNodeTypeError,
    compile_infrastructure,
    load_node_definitions,
)
from occo.util import load_yaml_file, load_yaml_text

THREE_TIER = """\
infra_name: shop
user_id: me@example.org
variables:
  greeting: hello
  db: {name: shop, port: 3306, options: [a, b]}
nodes:
  - &DB
    name: db
    type: db_node
  - &WEB
    name: web
    type: web_node
    scaling: {min: 2, max: 5}
    filter: {zone: b}
    variables:
      greeting: hi
      db: {port: 3307, options: [c]}
    attributes: {port: 8080}
  - &LB
    name: lb
    type: cache_node
    scaling: {min: 0}
    create_timeout: 300
    attributes: {role: front}
dependencies:
  - [*WEB, *DB]
  - connection: [*LB, *WEB]
    mappings:
      - [fqdn, backend.host]
      - {attributes: [port, backend.port], synch: true}
"""


def test_three_tier_description_compiles_to_the_model(tmp_path):
    desc = compile_files(tmp_path, THREE_TIER)
    assert (desc.infra_name, desc.user_id) == ("shop", "me@example.org")
    assert [n.name for n in desc.nodes] == ["db", "web", "lb"]
    assert desc.topological_order == ("db", "web", "lb")
    assert desc.levels == (("db",), ("web",), ("lb",))
    assert desc.dependencies_of("web") == ("db",) and desc.dependents_of("web") == ("lb",)
    assert desc.dependencies_of("db") == () and desc.dependents_of("lb") == ()
    assert [desc.level_of(n) for n in ("db", "web", "lb")] == [0, 1, 2]
    assert desc.depth == 3 and desc.instances_at_min == 3
    assert desc.summary() == "shop: 3 nodes, 3 instances at min scale, dependency depth 3"
    edge = desc.edge("lb", "web")
    assert edge.mappings == (AttributeMapping(source="fqdn", target="backend.host"),
                             AttributeMapping(source="port", target="backend.port", synch=True))
    assert desc.warnings == ()


def test_scaling_defaults(tmp_path):
    desc = compile_files(tmp_path, THREE_TIER)
    assert desc.node("db").scaling == Scaling(min=1, max=1)   # nothing written
    assert desc.node("web").scaling == Scaling(min=2, max=5)
    assert desc.node("lb").scaling == Scaling(min=0, max=0)   # max defaults to min


def test_only_max_given_keeps_min_one(tmp_path):
    desc = compile_files(tmp_path, "infra_name: s\nnodes:\n  - {name: a, type: db_node, "
                                   "scaling: {max: 4}}\n")
    assert desc.node("a").scaling == Scaling(min=1, max=4)


def test_variables_are_deep_merged_node_wins(tmp_path):
    desc = compile_files(tmp_path, THREE_TIER)
    assert desc.node("db").variables == {"greeting": "hello",
                                         "db": {"name": "shop", "port": 3306,
                                                "options": ("a", "b")}}
    assert desc.node("web").variables == {"greeting": "hi",
                                          "db": {"name": "shop", "port": 3307,
                                                 "options": ("c",)}}
    assert desc.variables["db"]["port"] == 3306  # the infrastructure's own are untouched


def test_filter_keeps_matching_implementations(tmp_path):
    desc = compile_files(tmp_path, THREE_TIER)
    web = desc.node("web")
    assert [impl.resource["zone"] for impl in web.implementations] == ["b"]
    assert web.filter == {"zone": "b"}
    db = desc.node("db")
    assert len(db.implementations) == 1 and db.implementations[0].health_check == {
        "ports": (3306,), "ping": True}


def test_occopus_extra_node_keys_are_kept(tmp_path):
    lb = compile_files(tmp_path, THREE_TIER).node("lb")
    assert lb.create_timeout == 300 and lb.attributes == {"role": "front"}


def test_alias_and_name_references_give_the_same_description(tmp_path):
    by_alias = compile_files(tmp_path / "a", THREE_TIER)
    by_name = compile_files(tmp_path / "n", THREE_TIER.replace("[*WEB, *DB]", "[web, db]")
                            .replace("[*LB, *WEB]", "[lb, web]"))
    mixed = compile_files(tmp_path / "m", THREE_TIER.replace("[*WEB, *DB]", "[web, *DB]"))
    assert by_alias == by_name == mixed
    assert by_alias.to_dict() == by_name.to_dict()


def test_an_edge_written_twice_is_one_edge_with_all_mappings(tmp_path):
    infra = THREE_TIER + "  - connection: [lb, web]\n    mappings: [[a, b]]\n"
    desc = compile_files(tmp_path, infra)
    assert len(desc.edges) == 2
    assert [m.source for m in desc.edge("lb", "web").mappings] == ["fqdn", "port", "a"]


def test_independent_nodes_share_a_level_in_document_order(tmp_path):
    infra = ("infra_name: wide\nnodes:\n" + "".join(
        f"  - {{name: {n}, type: cache_node}}\n" for n in ("e", "d", "c", "b", "a")) +
        "dependencies:\n  - [a, e]\n  - [b, e]\n  - [c, d]\n")
    desc = compile_files(tmp_path, infra)
    assert desc.levels == (("e", "d"), ("c", "b", "a"))
    assert desc.depth == 2


def test_dict_form_round_trips_through_json(tmp_path):
    desc = compile_files(tmp_path, THREE_TIER)
    data = json.loads(json.dumps(desc.to_dict()))
    again = type(desc).from_dict(data)
    assert again == desc
    assert again.to_dict() == data
    node = data["nodes"][1]
    assert set(node) == {"name", "type", "scaling", "filter", "variables", "implementations",
                         "attributes"}
    assert node["attributes"] == {"port": 8080}
    assert set(node["implementations"][0]) == {"resource", "contextualisation",
                                               "config_management", "health_check"}
    assert data["nodes"][2]["create_timeout"] == 300
    assert data["edges"][1] == {"dependent": "lb", "dependency": "web", "mappings": [
        {"attributes": ["fqdn", "backend.host"], "synch": False},
        {"attributes": ["port", "backend.port"], "synch": True}]}


def test_description_and_definitions_as_api_mappings(tmp_path):
    data = load_yaml_text(THREE_TIER, source="<request>")
    defs = {"db_node": [{"resource": {"type": "dummy", "zone": "a"}}],
            "node_def:web_node": [{"resource": {"type": "dummy", "zone": "b"}}],
            "cache_node": [{"resource": {"type": "dummy"}}]}
    desc = compile_infrastructure(data, defs, **PLUGINS)
    assert desc.topological_order == ("db", "web", "lb")
    assert desc.node("web").implementations[0].resource == {"type": "dummy", "zone": "b"}


def test_definitions_given_as_node_definition_objects(tmp_path):
    write_tree(tmp_path, {"defs.yaml": DEFS})
    loaded = load_node_definitions(tmp_path / "defs.yaml", **PLUGINS)
    assert set(loaded) == {"db_node", "web_node", "cache_node"}
    assert all(isinstance(d, NodeDefinition) for d in loaded.values())
    desc = compile_infrastructure(load_yaml_text(THREE_TIER), loaded, **PLUGINS)
    assert desc.node("web").implementations == (loaded["web_node"].implementations[1],)


def test_definitions_given_as_paths(tmp_path):
    write_tree(tmp_path, {"infra.yaml": THREE_TIER,
                          "defs/a.yaml": DEFS.split("'node_def:cache_node'")[0],
                          "defs/b.yaml": "'node_def:cache_node':\n  - resource: {type: dummy}\n"})
    desc = compile_infrastructure(tmp_path / "infra.yaml",
                                  [tmp_path / "defs/a.yaml", str(tmp_path / "defs/b.yaml")],
                                  **PLUGINS)
    assert len(desc.nodes) == 3


def test_definitions_beside_the_description_are_found_in_both_places(tmp_path):
    write_tree(tmp_path, {"infra.yaml": THREE_TIER,
                          "nodes/node_definitions.yaml": DEFS.split("'node_def:cache_node'")[0],
                          "node_definitions.yaml": "'node_def:cache_node':\n"
                                                   "  - resource: {type: dummy}\n"})
    desc = compile_infrastructure(tmp_path / "infra.yaml", **PLUGINS)
    assert desc.node("lb").type == "cache_node"


def test_missing_type_names_every_file_searched(tmp_path):
    err = compile_errors(tmp_path, "infra_name: x\nnodes:\n  - {name: a, type: nope}\n")
    (only,) = err.errors
    assert isinstance(only, UnknownNodeTypeError)
    assert only.searched == (str(tmp_path / "nodes/node_definitions.yaml"),
                             str(tmp_path / "node_definitions.yaml"))
    assert all(path in only.message for path in only.searched)
    assert only.node == "a" and only.node_type == "nope"


def test_api_description_without_definitions_says_none_were_given():
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure({"infra_name": "x", "nodes": [{"name": "a", "type": "t"}]},
                               **PLUGINS)
    (only,) = caught.value.errors
    assert "no node definitions were given" in only.message
    assert str(only.location) == "nodes[0].type"


GETIP_DEFS = DEFS.replace("{{ variables.greeting }}", "{{ getip('db') }}")


def test_template_reference_to_a_dependency_is_accepted(tmp_path):
    desc = compile_files(tmp_path, THREE_TIER, GETIP_DEFS, template_dependencies="error")
    assert desc.warnings == ()


def test_template_reference_to_an_indirect_dependency_is_accepted(tmp_path):
    defs = DEFS.replace("'node_def:cache_node':\n  - resource: {type: dummy}\n",
                        "'node_def:cache_node':\n  - resource: {type: dummy}\n"
                        "    config_management: {type: chef, db: \"{{ getprivip('db') }}\"}\n")
    desc = compile_files(tmp_path, THREE_TIER, defs, template_dependencies="error")
    assert desc.dependencies_of("lb") == ("web",)  # lb -> web -> db


NO_WEB_DB = THREE_TIER.replace("  - [*WEB, *DB]\n", "").replace("    filter: {zone: b}\n", "")


def test_missing_template_dependency_is_inferred_with_a_warning(tmp_path, caplog):
    infra = NO_WEB_DB
    with caplog.at_level(logging.WARNING, logger="occo.compiler"):
        desc = compile_files(tmp_path, infra, GETIP_DEFS)
    edge = desc.edge("web", "db")
    assert edge.inferred_from.startswith("getip('db') at ")
    assert f"{tmp_path / 'nodes/node_definitions.yaml'}:8:25" in edge.inferred_from
    assert desc.topological_order == ("db", "web", "lb")
    (warning,) = desc.warnings
    assert warning.startswith("node 'web' does not depend on 'db' but calls getip('db')")
    assert "write [web, db] in 'dependencies'" in warning
    assert warning in caplog.text
    assert desc.to_dict()["edges"][-1]["inferred_from"] == edge.inferred_from


def test_missing_template_dependency_is_an_error_in_strict_mode(tmp_path):
    infra = NO_WEB_DB
    err = compile_errors(tmp_path, infra, GETIP_DEFS, template_dependencies="error")
    (only,) = err.errors
    assert isinstance(only, TemplateReferenceError)
    assert (only.node, only.target, only.function) == ("web", "db", "getip")
    assert (only.location.line, only.location.column) == (8, 25)
    assert only.location.path == "node_def:web_node[0].contextualisation.context_template"
    assert "add the dependency [web, db]" in only.message


def test_filtered_out_implementations_are_not_checked_for_references(tmp_path):
    infra = THREE_TIER.replace("  - [*WEB, *DB]\n", "")  # web keeps zone b only
    defs = DEFS.replace("  - resource: {type: dummy, zone: b}\n",
                        "  - resource: {type: dummy, zone: b}\n"
                        "    health_check: {urls: ['http://{{ ip }}/']}\n")
    desc = compile_files(tmp_path, infra, defs.replace("{{ variables.greeting }}",
                                                       "{{ getip('db') }}"),
                         template_dependencies="error")
    assert desc.dependencies_of("web") == ()


def test_computed_and_raw_references_are_left_to_render_time(tmp_path):
    defs = DEFS.replace("{{ variables.greeting }}",
                        "{{ getip(variables.target) }} {% raw %}{{ getip('nowhere') }}"
                        "{% endraw %}")
    desc = compile_files(tmp_path, THREE_TIER, defs, template_dependencies="error")
    assert desc.warnings == ()


def test_invalid_template_dependencies_mode_is_refused(tmp_path):
    with pytest.raises(ValueError):
        compile_files(tmp_path, THREE_TIER, template_dependencies="sometimes")


def test_load_node_definitions_normalises_defaults(tmp_path):
    write_tree(tmp_path, {"defs.yaml": DEFS + "'node_def:quiet':\n  - resource: {type: dummy}"
                                              "\n    health_check: {ping: false}\n"})
    defs = load_node_definitions([tmp_path / "defs.yaml"], **PLUGINS)
    cache = defs["cache_node"].implementations[0]
    assert cache.config_management == {"type": "none"}
    assert cache.health_check == {"ping": True}
    assert cache.contextualisation is None
    assert defs["quiet"].implementations[0].health_check == {"ping": False}
    assert defs["web_node"].source == str(tmp_path / "defs.yaml")
    assert defs["web_node"].implementations[0].contextualisation["context_template"] \
        .startswith("#cloud-config")


def test_load_node_definitions_reports_all_problems_of_all_files(tmp_path):
    write_tree(tmp_path, {"a.yaml": "'node_def:a':\n  - resource: {type: ec3}\n",
                          "b.yaml": "'node_def:b':\n  - resource: {type: dummy, zon: a}\n"})
    with pytest.raises(CompileErrors) as caught:
        load_node_definitions([tmp_path / "a.yaml", tmp_path / "b.yaml"], **PLUGINS)
    messages = [str(e) for e in caught.value.errors]
    assert messages == [
        f"{tmp_path / 'a.yaml'}:2:22: node_def:a[0].resource.type: unknown resource type "
        f"'ec3'; known types: cloudsigma, docker, dummy, ec2, nova; did you mean 'ec2'?",
        f"{tmp_path / 'b.yaml'}:2:29: node_def:b[0].resource.zon: unknown key 'zon' in dummy "
        f"resource; did you mean 'zone'?"]


def test_include_outside_the_tree_can_be_allowed(tmp_path):
    write_tree(tmp_path, {"shared/ci.yaml": "runcmd: [echo shared]\n"})
    defs = DEFS.replace("      context_template: |\n        #cloud-config\n"
                        "        runcmd: [\"echo {{ variables.greeting }}\"]\n",
                        "      context_template: !yaml_import {url: file://../../shared/ci.yaml}\n")
    with pytest.raises(CompileErrors):
        compile_files(tmp_path / "infra", THREE_TIER, defs)
    desc = compile_files(tmp_path / "infra", THREE_TIER, defs, allow_outside=True)
    web_impls = load_node_definitions(tmp_path / "infra/nodes/node_definitions.yaml",
                                      allow_outside=True, **PLUGINS)["web_node"].implementations
    assert web_impls[0].contextualisation["context_template"] == {"runcmd": ("echo shared",)}
    assert desc.node("web").implementations == (web_impls[1],)


def test_compile_reads_only_what_it_is_given(tmp_path):
    desc = compile_files(tmp_path, THREE_TIER)
    data = load_yaml_file(tmp_path / "infra.yaml")
    assert desc == compile_infrastructure(data, tmp_path / "nodes/node_definitions.yaml",
                                          **PLUGINS)


def test_missing_description_file_is_located_by_name(tmp_path):
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(tmp_path / "nope.yaml", **PLUGINS)
    (only,) = caught.value.errors
    assert only.location.file == str(tmp_path / "nope.yaml")
    assert "file not found" in only.message


def test_missing_definitions_file_is_reported_with_the_description_checks(tmp_path):
    write_tree(tmp_path, {"infra.yaml": "infra_name: x\nnodes:\n  - {name: A_1, type: t}\n"})
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(tmp_path / "infra.yaml", tmp_path / "defs.yaml", **PLUGINS)
    first, second = caught.value.errors
    assert first.location.path == "nodes[0].name"  # the description's own problem
    assert second.location.file == str(tmp_path / "defs.yaml")
    assert "file not found" in second.message  # and no "type has no definition" noise


def test_yaml_merge_keys_and_repeated_aliases(tmp_path):
    infra = ("infra_name: merge\nnodes:\n  - &base {name: a, type: cache_node, "
             "scaling: {min: 2, max: 2}}\n  - <<: *base\n    name: b\n"
             "dependencies:\n  - [b, *base]\n")
    desc = compile_files(tmp_path, infra)
    assert desc.node("b").scaling == Scaling(min=2, max=2)
    assert desc.dependencies_of("b") == ("a",)
