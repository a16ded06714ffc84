"""Occopus's synch mappings, built: a dependency whose synch attribute never gets a value
never becomes ready, so its dependents are never created."""

from __future__ import annotations

import yaml
from e2e import Setup

DESCRIPTION = """\
infra_name: synch
nodes:
  - &DB {name: db, type: db}
  - &APP {name: app, type: app}
dependencies:
  - connection: [*APP, *DB]
    mappings:
      - {attributes: [%s, db_value], synch: true}
"""


def _build(tmp_path, attribute: str, context_attributes: dict | None):
    setup = Setup(tmp_path)
    setup.write_config(processing={"health_timeout": 1, "max_attempts": 1})
    infra = tmp_path / "infra.yaml"
    infra.write_text(DESCRIPTION % attribute)
    db = {"resource": {"type": "dummy", "create_latency": 0.01},
          "health_check": {"ping": False}}
    if context_attributes is not None:
        db["contextualisation"] = {"type": "cloudinit", "context_template": "#cloud-config\n",
                                   "attributes": context_attributes}
    nodes = tmp_path / "nodes" / "node_definitions.yaml"
    nodes.parent.mkdir()
    nodes.write_text(yaml.safe_dump({
        "node_def:db": [db],
        "node_def:app": [{"resource": {"type": "dummy", "create_latency": 0.01}}]}))
    with setup.occo() as occo:
        description = occo.validate(infra)
        result = occo.build(infra)
        status = occo.status(result["infra_id"])
        occo.destroy(result["infra_id"])
    return description, result, status


def test_a_synch_attribute_with_a_value_lets_the_dependent_be_built(tmp_path):
    description, result, status = _build(tmp_path, "mysql.port", {"mysql": {"port": 3306}})
    assert not [w for w in description.warnings if "synch attribute" in w]
    assert result["status"] == "ready", result
    assert {n["name"] for n in status["nodes"]} >= {"db", "app"}


def test_a_synch_attribute_without_a_value_keeps_the_dependent_from_being_built(tmp_path):
    description, result, status = _build(tmp_path, "mysql.port", {"mysql": {"user": "u"}})
    assert any("synch attribute 'mysql.port' of node 'db'" in w for w in description.warnings)
    assert result["status"] == "failed", result
    assert "attribute 'mysql.port' has no value yet" in repr(result["failures"]), result
    app = next(n for n in status["nodes"] if n["name"] == "app")
    assert app["instances"] == [], status
