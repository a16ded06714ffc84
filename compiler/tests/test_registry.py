"""Plugins seen through entry points: resource schemas, config managers, health checks.

A throw-away distribution (a *.dist-info with entry_points.txt on a temporary sys.path
entry) registers them, exactly as occo-cloudhandler and occo-servicecomposer will.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import DEFS, write_tree
from schemas import SCHEMAS

from occo.compiler import (
    CompileErrors,
    PluginLoadError,
    Registry,
    compile_infrastructure,
    load_resource_schemas,
)

PLUGIN_MODULE = """\
from occo.util import Field, Schema

DUMMY = Schema("dummy resource", (Field("type", "str", required=True), Field("zone", "str")))
NOT_A_SCHEMA = {"type": "str"}


class Chef:
    pass


class HttpJson:
    pass
"""


def register(site: Path, module: str, entry_points: str) -> None:
    """Write an installed-looking distribution named after ``module`` under ``site``."""
    write_tree(site, {
        f"{module}.py": PLUGIN_MODULE,
        f"{module}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {module}\n"
                                            "Version: 1.0\n",
        f"{module}-1.0.dist-info/entry_points.txt": textwrap.dedent(entry_points),
    })


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def test_explicit_values_are_used_and_none_is_always_known():
    registry = Registry.resolve(SCHEMAS, ["chef"], ["http_json"])
    assert registry.resource_schemas == SCHEMAS
    assert registry.config_managers == {"chef", "none"}
    assert registry.health_checks == {"http_json"}


def test_explicit_schema_must_be_a_schema():
    with pytest.raises(TypeError, match="must be an occo.util.Schema"):
        Registry.resolve({"ec2": {"type": "str"}}, (), ())


def test_plugins_are_loaded_from_entry_points(site, tmp_path):
    register(site, "occo_test_plugins", """\
        [occo.resource_schema]
        dummy = occo_test_plugins:DUMMY
        [occo.configmanager]
        chef = occo_test_plugins:Chef
        [occo.healthcheck]
        http_json = occo_test_plugins:HttpJson
        """)
    registry = Registry.resolve()
    assert registry.resource_schemas["dummy"].name == "dummy resource"
    assert {"chef", "none"} <= registry.config_managers
    assert "http_json" in registry.health_checks
    defs = DEFS.replace("    health_check: {ports: [3306]}\n",
                        "    health_check: {ports: [3306], http_json: {url: /status}}\n"
                        "    config_management: {type: chef, run_list: []}\n")
    write_tree(tmp_path / "d", {"infra.yaml": "infra_name: ep\nnodes:\n"
                                              "  - {name: db, type: db_node}\n",
                                "nodes/node_definitions.yaml": defs})
    desc = compile_infrastructure(tmp_path / "d/infra.yaml")  # nothing passed explicitly
    assert desc.node("db").implementations[0].health_check["http_json"] == {"url": "/status"}


def test_an_unregistered_resource_type_names_the_registered_ones(site, tmp_path):
    register(site, "occo_test_plugins2", """\
        [occo.resource_schema]
        dummy = occo_test_plugins2:DUMMY
        """)
    write_tree(tmp_path / "d", {"infra.yaml": "infra_name: ep\nnodes:\n"
                                              "  - {name: db, type: db_node}\n",
                                "nodes/node_definitions.yaml":
                                    "'node_def:db_node':\n  - resource: {type: ec2}\n"})
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(tmp_path / "d/infra.yaml")
    (only,) = caught.value.errors
    assert only.message.startswith("unknown resource type 'ec2'; known types: ")
    assert "dummy" in only.message


def test_a_broken_schema_plugin_is_an_installation_error(site):
    register(site, "occo_test_plugins3", """\
        [occo.resource_schema]
        weird = occo_test_plugins3:NOT_A_SCHEMA
        """)
    with pytest.raises(PluginLoadError, match="'weird' .* is a dict, not an occo.util.Schema"):
        load_resource_schemas()


def test_an_unimportable_schema_plugin_is_an_installation_error(site):
    register(site, "occo_test_plugins4", """\
        [occo.resource_schema]
        gone = occo_test_plugins_missing:SCHEMA
        """)
    with pytest.raises(PluginLoadError, match="'gone' .* could not be loaded: "
                                              "ModuleNotFoundError") as caught:
        load_resource_schemas()
    assert caught.value.exit_code == 1
