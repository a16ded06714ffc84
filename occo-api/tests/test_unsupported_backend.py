"""A resource type with a schema but no installed backend (``cloudsigma``), or no schema at all,
is refused by build, import and the REST POST before anything is stored; validate and
plan accept it (it is valid Occopus) and plan says it cannot be built here; destroy of a
stored infrastructure using it never ends in ``destroy_failed``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from e2e import Setup

from occo.api.occopus import run as occopus_run
from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.service import installed_types
from occo.util import InputError, InputErrors

SIGMA = {"type": "cloudsigma", "endpoint": "https://zrh.cloudsigma.com/api/2.0",
         "libdrive_id": "drive-1", "description": {"cpu": 1000, "mem": 1073741824,
                                                   "vnc_password": "vnc"}}
DUMMY = {"type": "dummy", "create_latency": 0.01}

DEFINITIONS = """\
'node_def:web_t':
  - resource: {type: dummy, create_latency: 0.01}
'node_def:old_t':
  - resource:
      type: cloudsigma
      endpoint: https://zrh.cloudsigma.com/api/2.0
      libdrive_id: drive-1
      description: {cpu: 1000, mem: 1073741824, vnc_password: vnc}
"""
TYPE_LINE = 5   # the line of `type: cloudsigma` above

INFRA = """\
infra_name: legacy
nodes:
  - &W {name: web, type: web_t}
  - &O {name: old, type: old_t}
dependencies:
  - connection: [*W, *O]
"""


def installed() -> str:
    # the cloud handler's own registry (entry point group occo.cloudhandler), not a list
    return ", ".join(installed_types())


def message(node: str = "old", kind: str = "cloudsigma") -> str:
    return (f"resource type {kind!r} of node {node!r} has no backend installed here; "
            f"installed: {installed()}")


@pytest.fixture
def setup(tmp_path) -> Setup:
    s = Setup(tmp_path / "occo")
    s.root.mkdir()
    s.write_config()
    return s


@pytest.fixture
def files(tmp_path) -> Path:
    d = tmp_path / "legacy"
    (d / "nodes").mkdir(parents=True)
    (d / "nodes" / "node_definitions.yaml").write_text(DEFINITIONS)
    (d / "infra.yaml").write_text(INFRA)
    return d


def assert_store_empty(setup: Setup) -> None:
    with setup.occo() as occo:
        assert occo.store.list_infrastructures() == []
        assert occo.store.list_node_definitions() == {}


def test_the_message_uses_the_cloud_handlers_registry():
    assert "cloudsigma" not in installed_types() and "dummy" in installed_types()
    assert installed_types() == CloudHandlerService().backends()["handlers"]


def test_build_is_refused_before_anything_is_stored(setup, files):
    definitions = files / "nodes" / "node_definitions.yaml"
    with setup.occo() as occo:
        with pytest.raises(InputError) as info:
            occo.build(files / "infra.yaml")
    err = info.value
    assert err.exit_code == 2 and err.node == "old"
    assert err.message == message()
    assert (err.location.file, err.location.line) == (str(definitions.resolve()),
                                                      TYPE_LINE)
    assert str(err) == (f"{definitions.resolve()}:{TYPE_LINE}:13: "
                        f"node_def:old_t[0].resource.type: {message()}")
    assert_store_empty(setup)


def test_every_node_of_such_a_type_is_named(setup, files):
    (files / "infra.yaml").write_text(INFRA.replace(
        "  - &O {name: old, type: old_t}\n",
        "  - &O {name: old, type: old_t}\n  - {name: older, type: old_t}\n"))
    with setup.occo() as occo:
        with pytest.raises(InputErrors) as info:
            occo.build(files / "infra.yaml")
    assert [e.message for e in info.value.errors] == [message("old"), message("older")]
    assert info.value.exit_code == 2
    assert_store_empty(setup)


def test_the_cli_build_exits_2_and_names_file_line_node_and_types(setup, files):
    proc = setup.cli("build", str(files / "infra.yaml"))
    assert proc.returncode == 2, proc.stderr
    where = f"{(files / 'nodes' / 'node_definitions.yaml').resolve()}:{TYPE_LINE}:13"
    assert proc.stderr.strip() == (f"occo: error: {where}: node_def:old_t[0].resource.type: "
                                   f"{message()}")
    assert "building" not in proc.stdout
    assert_store_empty(setup)


def test_occo_import_is_refused_and_stores_nothing(setup, files):
    definitions = files / "nodes" / "node_definitions.yaml"
    proc = setup.cli("import", str(definitions))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"occo: error: {definitions.resolve()}:{TYPE_LINE}:13: "
        f"node_def:old_t[0].resource.type: resource type 'cloudsigma' of node type 'old_t' has no "
        f"backend installed here; installed: {installed()}")
    assert_store_empty(setup)   # not even the good type web_t


def test_occopus_import_is_refused_and_stores_nothing(setup, files):
    setup.config_file.write_text(yaml.safe_dump(setup.config))
    out, err = io.StringIO(), io.StringIO()
    code = occopus_run("occopus-import", ["--cfg", str(setup.config_file),
                                          str(files / "nodes" / "node_definitions.yaml")],
                       out=out, err=err)
    assert code == 2, err.getvalue()
    assert "resource type 'cloudsigma' of node type 'old_t' has no backend installed here" \
        in err.getvalue()
    assert_store_empty(setup)


def test_rest_post_is_refused_with_400_and_stores_nothing(setup, tmp_path):
    # definitions stored before their backend was checked (or by another version)
    from rest_support import Client

    from occo.api.config import load_config
    from occo.api.rest import RestService

    token = tmp_path / "token"
    setup.write_config(rest={"token_file": str(token), "threads": 4})
    with setup.occo() as occo:
        occo.store.put_node_definition("web_t", [{"resource": DUMMY}])
        occo.store.put_node_definition("old_t", [{"resource": SIGMA}])
    service = RestService(load_config(setup.config_file), port=0)
    service.start()
    try:
        client = Client(service.port, service.token)
        status, body, _ = client.post("/infrastructures/", INFRA)
        assert status == 400, body
        assert body["error"] == "InputError" and body["node"] == "old"
        assert body["message"] == message()
        assert body["file"] == "the stored node definitions"
        assert body["path"] == "node_def:old_t.resource.type"
        assert client.get("/infrastructures/")[1]["infrastructures"] == []
        client.close()
    finally:
        assert service.stop() == []
    with setup.occo() as occo:
        assert occo.store.list_infrastructures() == []


def test_validate_and_plan_accept_it_and_plan_says_it_cannot_be_built(setup, files):
    proc = setup.cli("validate", str(files / "infra.yaml"))
    assert proc.returncode == 0, proc.stderr
    proc = setup.cli("plan", str(files / "infra.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "occo: warning: cannot be built here: " in proc.stderr
    assert message() in proc.stderr
    with setup.occo() as occo:
        plan = occo.plan(files / "infra.yaml")
        assert plan["creates"] == 2 and len(plan["warnings"]) == 1
        assert plan["warnings"][0].endswith(message())
    assert_store_empty(setup)


def test_a_type_unknown_entirely_is_refused_by_every_command(setup, files):
    definitions = files / "nodes" / "node_definitions.yaml"
    definitions.write_text(DEFINITIONS.replace("type: cloudsigma", "type: cloudsigmaa"))
    for command in (["validate", str(files / "infra.yaml")],
                    ["plan", str(files / "infra.yaml")],
                    ["build", str(files / "infra.yaml")],
                    ["import", str(definitions)]):
        proc = setup.cli(*command)
        assert proc.returncode == 2, (command, proc.stderr)
        assert f"{definitions.resolve()}:{TYPE_LINE}:13: " in proc.stderr
        assert "unknown resource type 'cloudsigmaa'" in proc.stderr
        assert "did you mean 'cloudsigma'?" in proc.stderr
    assert_store_empty(setup)


def test_destroy_of_a_stored_infrastructure_with_such_a_type_ends_destroyed(setup, files):
    """An infrastructure stored before the check (register + a pass, bypassing build):
    its cloudsigma instance never reached a cloud, so dropping it needs no backend."""
    with setup.occo() as occo:
        record = occo.register(occo.validate(files / "infra.yaml"))
        outcome = occo.system.enactor.maintain_once(record.infra_id, keep_on_failure=True)
        assert outcome["status"] != "ready"
        assert outcome["drop_failures"] == []
        gone = occo.destroy(record.infra_id)
        assert gone["status"] == "destroyed", gone
        assert gone["drop_failures"] == []
        assert occo.store.list_infrastructures() == []


def test_the_cloud_handler_drops_a_never_created_instance_without_a_backend():
    service = CloudHandlerService()
    lookup = {"instance_id": "i-1", "infra_id": "inf", "node_name": "old", "lookup": True,
              "resource": SIGMA}
    assert service.drop_nodes([lookup]) == [{}]
    assert service.drop_node(lookup) == {}
    assert service.list_nodes("inf", [SIGMA]) == []
    # a reference a backend gave back is still refused: the resource may exist
    made = {**lookup, "lookup": False, "type": "cloudsigma", "endpoint": "cloudsigma:x"}
    assert service.drop_nodes([made])[0]["error"]["type"] == "NoBackend"
    service.close()


def test_a_config_manager_occo_refuses_is_refused_before_anything_is_stored(setup, tmp_path):
    # chef needs a Chef server OCCO has no client for: found at build, not at create
    files = tmp_path / "chef"
    (files / "nodes").mkdir(parents=True)
    (files / "infra.yaml").write_text("infra_name: cooked\nnodes:\n  - {name: db, type: db_t}\n")
    definitions = files / "nodes" / "node_definitions.yaml"
    definitions.write_text("'node_def:db_t':\n  - resource: {type: dummy}\n"
                           "    config_management:\n      type: chef\n"
                           "      endpoint: https://chef.example.org\n"
                           "      run_list: ['recipe[mysql]']\n")
    with setup.occo() as occo:
        plan = occo.plan(files / "infra.yaml")
        assert any("config_management type 'chef' is not supported" in w
                   for w in plan["warnings"]), plan
        with pytest.raises(InputError) as info:
            occo.build(files / "infra.yaml")
    err = info.value
    assert err.exit_code == 2 and err.node == "db"
    assert str(err).startswith(f"{definitions.resolve()}:4:13: "
                               "node_def:db_t[0].config_management.type: node 'db': "
                               "config_management type 'chef' is not supported by OCCO")
    assert "Use 'puppet_solo'" in err.message
    assert_store_empty(setup)
    proc = setup.cli("import", str(definitions))
    assert proc.returncode == 2 and "config_management type 'chef'" in proc.stderr
    assert_store_empty(setup)
