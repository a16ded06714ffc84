"""Occopus-format files load, validate and compile unchanged (issue 3, item 7).

Two corpora: OCCO's own (occo.util.testing.CORPUS, always) and the Occopus tutorials
(OCCO_TUTORIALS, optional: without them their tests skip, with the reason). Both have the
same layout: ``<name>/infra*.yaml``, ``<name>/nodes/node_definitions.yaml``, and
``_occopus/`` for Occopus's own configuration files (occo-api's concern, not the compiler's).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORPUS_PLUGINS, PLUGINS, TUTORIALS

from occo.compiler import (
    CompileErrors,
    StaticDescription,
    TemplateReferenceError,
    compile_infrastructure,
    load_node_definitions,
)
from occo.util import load_yaml_file
from occo.util.testing import CORPUS, tutorials_missing

needs_tutorials = pytest.mark.skipif(TUTORIALS is None, reason=str(tutorials_missing()))

CORPUS_INFRAS = {"bulletin-board", "gallery-puppet", "inline-templates", "notebook-lab",
                 "relay-docker", "sandbox-dummy", "swarm-cloudsigma", "wiki-chef",
                 "workers-local"}


def _files(root: Path | None, label: str, pattern: str) -> list:
    """One param per file of ``root`` matching ``pattern`` (but _occopus/), or, without
    ``root``, one skipped param that shows why."""
    if root is None:
        return [pytest.param(None, None, id=f"{label}-missing",
                             marks=pytest.mark.skip(reason=str(tutorials_missing())))]
    found = sorted(p for p in root.glob(pattern) if "_occopus" not in p.relative_to(root).parts)
    assert found, f"no {pattern} under {root}"
    return [pytest.param(root, p, id=f"{label}:{p.relative_to(root)}") for p in found]


def _both(pattern: str) -> list:
    return _files(CORPUS, "corpus", pattern) + _files(TUTORIALS, "tutorials", pattern)


DESCRIPTIONS = _both("*/infra*.yaml")
DEFINITIONS = _both("*/nodes/node_definitions.yaml")
YAML_FILES = _both("*/**/*.yaml")


def _directories(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and p.name != "_occopus"}


def test_the_walk_sees_every_corpus_infrastructure():
    descriptions = [param.values[1] for param in DESCRIPTIONS if param.values[0] == CORPUS]
    assert _directories(CORPUS) == CORPUS_INFRAS
    assert {p.parent.name for p in descriptions} == CORPUS_INFRAS
    assert len(list(CORPUS.glob("*/nodes/node_definitions.yaml"))) == len(CORPUS_INFRAS)


@needs_tutorials
def test_the_walk_sees_every_tutorial():
    descriptions = sorted(TUTORIALS.glob("*/infra*.yaml"))
    definitions = sorted(TUTORIALS.glob("*/nodes/node_definitions.yaml"))
    assert {p.parent.name for p in descriptions} == _directories(TUTORIALS)
    assert len(descriptions) == len(definitions) == 12


@pytest.mark.parametrize("root, path", YAML_FILES)
def test_every_yaml_file_loads_safely(root, path):
    assert load_yaml_file(path, root=path.parent.parent) is not None


@pytest.mark.parametrize("root, path", DEFINITIONS)
def test_every_node_definitions_file_validates(root, path):
    defs = load_node_definitions(path, **CORPUS_PLUGINS)
    assert defs and all(d.implementations for d in defs.values())


@pytest.mark.parametrize("root, path", DESCRIPTIONS)
def test_every_description_compiles(root, path):
    desc = compile_infrastructure(path, **CORPUS_PLUGINS)
    assert len(desc.nodes) >= 1 and desc.depth >= 1
    assert all(node.implementations for node in desc.nodes)
    again = StaticDescription.from_dict(json.loads(json.dumps(desc.to_dict())))
    assert again == desc


def _compile_in(root: Path, name: str, **kwargs) -> StaticDescription:
    (path,) = root.glob(f"{name}/infra*.yaml")
    return compile_infrastructure(path, **CORPUS_PLUGINS, **kwargs)


# -- OCCO's own corpus -------------------------------------------------------------------

def _corpus(name: str, **kwargs) -> StaticDescription:
    return _compile_in(CORPUS, name, **kwargs)


def test_corpus_filters_pick_among_implementations_and_node_variables_win():
    desc = _corpus("bulletin-board")
    store, board = desc.node("store"), desc.node("board")
    assert [i.resource_type for i in store.implementations] == ["nova"]  # filter {type: nova}
    assert [(i.resource["name"], i.resource["instance_type"]) for i in board.implementations] \
        == [("north-small", "t3.small"), ("north-medium", "t3.medium")]  # the south one is out
    assert (board.scaling.min, board.scaling.max) == (2, 5)
    assert board.variables == {"board_title": "Corpus Notice Board", "store_port": 6380,
                               "listen_port": 8080}
    assert store.variables["listen_port"] == 80
    first, second = board.implementations
    assert first.health_check == {"ping": True, "ports": (8080,), "timeout": 300,
                                  "urls": ("http://{{ip}}:8080/healthz",)}
    assert second.health_check == {"ping": True, "urls": ("http://{{ip}}:8080/healthz",)}
    assert first.contextualisation["context_template"].startswith("#cloud-config\n")
    assert desc.edge("board", "store").mappings == ()
    assert desc.summary() == "bulletin-board: 2 nodes, 3 instances at min scale, " \
                             "dependency depth 2"


def test_corpus_min_without_max_and_a_bare_node_name():
    desc = _corpus("swarm-cloudsigma", template_dependencies="error")
    assert desc.node("agent").scaling.min == desc.node("agent").scaling.max == 3
    assert desc.node("manager").implementations[0].resource_type == "cloudsigma"
    assert desc.node("manager").implementations[0].resource["description"]["cpu"] == 2500
    assert desc.summary() == "swarm-cloudsigma: 2 nodes, 4 instances at min scale, " \
                             "dependency depth 2"
    # getip(manager) names no node statically: nothing inferred, nothing warned
    assert desc.warnings == () and desc.dependencies_of("agent") == ("manager",)


def test_corpus_chef_mappings_and_attributes():
    desc = _corpus("wiki-chef")
    edge = desc.edge("wiki-app", "wiki-db")
    assert [(m.source, m.target, m.synch) for m in edge.mappings] == [
        ("fqdn", "mediawiki.db.server", False), ("port", "mediawiki.db.port", True),
        ("ipaddress", "mediawiki.db.address", False)]
    db = desc.node("wiki-db").implementations[0]
    assert db.config_management == {"type": "chef", "run_list": (
        "recipe[mariadb::server]", "recipe[wiki-schema::default]"),
        "endpoint": "https://chef.corpus.example/organizations/docs"}
    context = db.contextualisation
    assert context["context_template"]["chef"]["environment"] == "{{ infra_id }}"
    assert context["attributes"]["wiki_schema"]["database"] == "{{ variables.db_name }}"
    assert db.health_check["mysqldbs"] == ({"name": "{{ variables.db_name }}",
                                            "user": "{{ variables.db_user }}",
                                            "pass": "{{ variables.db_secret }}"},)
    assert desc.node("wiki-app").variables["db_user"] == "wikiuser"


def test_corpus_docker_references_its_dependency_by_alias():
    desc = _corpus("relay-docker", template_dependencies="error")
    assert desc.dependencies_of("listener") == ("beacon",)
    assert desc.warnings == ()
    beacon = desc.node("beacon").implementations[0]
    assert beacon.contextualisation["command"] == ("/bin/sh", "/opt/relay/beacon.sh")
    listener = desc.node("listener").implementations[0]
    assert listener.contextualisation["env"] == ("BEACON_ADDRESS={{ getip('beacon') }}",
                                                 "ROUNDS={{ variables.rounds }}")
    assert listener.health_check == {"ping": False}


def test_corpus_template_dependency_that_is_not_written():
    # gallery-web calls getip('gallery-db') in its puppet attributes without the
    # dependency: by default it is added with a warning; the strict mode refuses it.
    where = CORPUS / "gallery-puppet/nodes/node_definitions.yaml:62:20"
    desc = _corpus("gallery-puppet")
    assert desc.edge("gallery-web", "gallery-db").inferred_from.startswith(
        f"getip('gallery-db') at {where}: ")
    assert desc.topological_order == ("gallery-db", "gallery-web")
    (warning,) = desc.warnings
    assert warning == (
        f"node 'gallery-web' does not depend on 'gallery-db' but calls getip('gallery-db') at "
        f"{where}: node_def:gallery_web[0].config_management.attributes[3].db_host; the "
        "dependency was added (write [gallery-web, gallery-db] in 'dependencies' to make it "
        "explicit)")
    with pytest.raises(CompileErrors) as caught:
        _corpus("gallery-puppet", template_dependencies="error")
    (error,) = caught.value.errors
    assert isinstance(error, TemplateReferenceError)
    assert (error.node, error.target) == ("gallery-web", "gallery-db")
    assert str(error.location) == \
        f"{where}: node_def:gallery_web[0].config_management.attributes[3].db_host"
    assert "add the dependency [gallery-web, gallery-db]" in error.message


def test_corpus_nested_variables_merge_and_render_time_references():
    desc = _corpus("notebook-lab", template_dependencies="error")
    kernel = desc.node("kernel")
    assert kernel.variables["limits"] == {"memory": "4g", "cpus": 2}
    assert desc.node("hub").variables["limits"] == {"memory": "2g", "cpus": 2}
    assert desc.node("hub").variables["lab_banner"].splitlines()[1] == \
        "Files in /srv/scratch are removed every night."
    resource = kernel.implementations[0].resource
    assert resource["server_name"] == "lab-kernel-{{ cut(node_id, 0, 8) }}"
    assert resource["volume_persist"] is False and resource["volume_size"] == 20
    assert desc.warnings == ()


def test_corpus_dummy_scaled_to_zero_and_occopus_node_keys():
    desc = _corpus("sandbox-dummy")
    probe, collector = desc.node("probe"), desc.node("collector")
    assert (probe.scaling.min, probe.scaling.max, probe.create_timeout) == (0, 4, 120)
    assert probe.implementations[0].contextualisation["type"] == "basic"
    assert collector.attributes == {"collector": {"retention_days": 7}}
    (impl,) = collector.implementations  # filter {name: sandbox-b}
    assert impl.resource == {"type": "dummy", "name": "sandbox-b"}
    assert impl.contextualisation is None
    assert impl.health_check == {"ping": False, "timeout": 30}
    assert desc.edges == () and desc.depth == 1 and desc.instances_at_min == 1


def test_corpus_inline_templates_and_imported_variables():
    desc = _corpus("inline-templates")
    origin, edge = desc.node("origin"), desc.node("edge")
    assert origin.variables == {"site": "corpus.example",
                                "cache": {"size_mb": 128, "policy": "lru"}}
    assert edge.variables["cache"] == {"size_mb": 512, "policy": "lru"}
    text = origin.implementations[0].contextualisation["context_template"]
    assert text.startswith("#cloud-config\nhostname: {{ name }}-{{ cut(node_id, 0, 6) }}\n")
    mapping = edge.implementations[0].contextualisation["context_template"]
    assert mapping["write_files"][0]["content"] == "{{ getipall('origin') | join(' ') }}"
    assert origin.implementations[0].resource["tags"]["occo-infra"] == \
        "{{ cut(infra_id, 0, 8) }}"
    assert desc.warnings == ()


def test_corpus_local_processes():
    desc = _corpus("workers-local")
    worker = desc.node("worker").implementations[0].resource
    assert worker["type"] == "local" and worker["command"][0] == "sh"
    assert worker["env"]["QUEUE_HOST"] == "{{ getip('queue') }}"
    assert worker["files"]["worker.py"]["mode"] == 0o644
    assert desc.dependencies_of("worker") == ("queue",)


def test_corpus_local_resource_needs_the_local_schema():
    # the local cloud handler's schema is a plugin: without it the type is unknown
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(CORPUS / "workers-local/infra-workers-local.yaml", **PLUGINS)
    assert {e.message.split(";")[0] for e in caught.value.errors} == {
        "unknown resource type 'local'"}


# -- the Occopus tutorials (optional) ----------------------------------------------------

def _compile(name: str, **kwargs) -> StaticDescription:
    return _compile_in(TUTORIALS, name, **kwargs)


@needs_tutorials
def test_docker_swarm_min_without_max():
    desc = _compile("docker-swarm")
    assert desc.node("worker").scaling.min == desc.node("worker").scaling.max == 2
    assert desc.node("master").implementations[0].resource_type == "cloudsigma"
    assert desc.summary() == "dockerswarm-infra: 2 nodes, 3 instances at min scale, " \
                             "dependency depth 2"


@needs_tutorials
def test_chef_wordpress_mapping_and_variables():
    desc = _compile("chef-wordpress")
    edge = desc.edge("wordpress", "mysql-server")
    assert [(m.source, m.target) for m in edge.mappings] == [("fqdn", "wordpress.db.host")]
    assert desc.node("wordpress").variables["mysql_database_name"] == \
        "replace_with_database_name"
    impl = desc.node("mysql-server").implementations[0]
    assert impl.config_management["type"] == "chef"
    assert impl.contextualisation["context_template"]["chef"]["environment"] == "{{infra_id}}"


@needs_tutorials
def test_docker_ping_references_its_dependency_by_alias():
    desc = _compile("docker-ping", template_dependencies="error")
    assert desc.dependencies_of("ping-sender") == ("ping-receiver",)
    assert desc.warnings == ()


TEMPLATE_DEPENDENCY_CASES = [
    ("autoscaling-hadoop", "hadoop-slave", "hadoop-master",
     "autoscaling-hadoop/nodes/cloud_init_hadoop_slave.yaml:46:12"),
    ("puppet-solo-wordpress", "puppet-solo-wp", "puppet-solo-mysql",
     "puppet-solo-wordpress/nodes/node_definitions.yaml:67:22"),
]


@needs_tutorials
@pytest.mark.parametrize("name,node,target,where", TEMPLATE_DEPENDENCY_CASES)
def test_tutorials_that_omit_a_template_dependency(name, node, target, where):
    # These two Occopus tutorials call getip() on a node they do not depend on. By
    # default the dependency is added with a warning (so they compile unchanged);
    # the strict mode shows the check itself.
    desc = _compile(name)
    assert desc.edge(node, target).inferred_from
    assert len(desc.warnings) == 1 and str(TUTORIALS / where) in desc.warnings[0]
    with pytest.raises(CompileErrors) as caught:
        _compile(name, template_dependencies="error")
    errors = caught.value.errors
    assert all(isinstance(e, TemplateReferenceError) and (e.node, e.target) == (node, target)
               for e in errors)
    assert str(errors[0].location).startswith(f"{TUTORIALS / where}: node_def:")
    assert f"add the dependency [{node}, {target}]" in errors[0].message
