"""Every Occopus tutorial file loads, validates and compiles unchanged (issue 3, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import PLUGINS, TUTORIALS
from occo.compiler import (CompileErrors, StaticDescription, TemplateReferenceError,
                           compile_infrastructure, load_node_definitions)
from occo.util import load_yaml_file


def _files(pattern: str) -> list[Path]:
    found = sorted(TUTORIALS.glob(pattern))
    assert found, f"no {pattern} under {TUTORIALS} (set OCCO_TUTORIALS to the fixtures)"
    return found


DESCRIPTIONS = _files("*/infra*.yaml")
DEFINITIONS = _files("*/nodes/node_definitions.yaml")
# Occopus's own configuration files (_occopus/) are occo-api's concern, not the compiler's.
YAML_FILES = [p for p in _files("*/**/*.yaml") if "_occopus" not in p.parts]


def _id(path: Path) -> str:
    return str(path.relative_to(TUTORIALS))


def test_the_walk_sees_every_tutorial():
    tutorials = {p.name for p in TUTORIALS.iterdir() if p.is_dir() and p.name != "_occopus"}
    assert {p.parent.name for p in DESCRIPTIONS} == tutorials
    assert len(DESCRIPTIONS) == len(DEFINITIONS) == 12


@pytest.mark.parametrize("path", YAML_FILES, ids=_id)
def test_every_yaml_file_loads_safely(path):
    assert load_yaml_file(path, root=path.parent.parent) is not None


@pytest.mark.parametrize("path", DEFINITIONS, ids=_id)
def test_every_node_definitions_file_validates(path):
    defs = load_node_definitions(path, **PLUGINS)
    assert defs and all(d.implementations for d in defs.values())


@pytest.mark.parametrize("path", DESCRIPTIONS, ids=_id)
def test_every_description_compiles(path):
    desc = compile_infrastructure(path, **PLUGINS)
    assert len(desc.nodes) >= 1 and desc.depth >= 1
    assert all(node.implementations for node in desc.nodes)
    again = StaticDescription.from_dict(json.loads(json.dumps(desc.to_dict())))
    assert again == desc


def _compile(name: str, **kwargs) -> StaticDescription:
    (path,) = TUTORIALS.glob(f"{name}/infra*.yaml")
    return compile_infrastructure(path, **PLUGINS, **kwargs)


def test_docker_swarm_min_without_max():
    desc = _compile("docker-swarm")
    assert desc.node("worker").scaling.min == desc.node("worker").scaling.max == 2
    assert desc.node("master").implementations[0].resource_type == "cloudsigma"
    assert desc.summary() == "dockerswarm-infra: 2 nodes, 3 instances at min scale, " \
                             "dependency depth 2"


def test_chef_wordpress_mapping_and_variables():
    desc = _compile("chef-wordpress")
    edge = desc.edge("wordpress", "mysql-server")
    assert [(m.source, m.target) for m in edge.mappings] == [("fqdn", "wordpress.db.host")]
    assert desc.node("wordpress").variables["mysql_database_name"] == \
        "replace_with_database_name"
    impl = desc.node("mysql-server").implementations[0]
    assert impl.config_management["type"] == "chef"
    assert impl.contextualisation["context_template"]["chef"]["environment"] == "{{infra_id}}"


def test_docker_ping_references_its_dependency_by_alias():
    desc = _compile("docker-ping", template_dependencies="error")
    assert desc.dependencies_of("ping-sender") == ("ping-receiver",)
    assert desc.warnings == ()


@pytest.mark.parametrize("name,node,target,where", [
    ("autoscaling-hadoop", "hadoop-slave", "hadoop-master",
     "autoscaling-hadoop/nodes/cloud_init_hadoop_slave.yaml:46:12"),
    ("puppet-solo-wordpress", "puppet-solo-wp", "puppet-solo-mysql",
     "puppet-solo-wordpress/nodes/node_definitions.yaml:67:22"),
])
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
