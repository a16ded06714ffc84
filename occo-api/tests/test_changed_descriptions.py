"""Building again under the same infrastructure: instances of node types the description
no longer has are shown by plan and dropped by build (never left running unseen), and a
description of another name is refused for `-i`, saying how to proceed."""

from __future__ import annotations

import json

import pytest
from e2e import DUMMY, Setup, write_description


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


def describe(directory, name, nodes, edges=()):
    return write_description(directory, name, nodes, list(edges), {"t": DUMMY})


def test_a_removed_node_type_is_planned_then_dropped(setup, tmp_path):
    full = describe(tmp_path / "full", "shop", {
        "db": {"type": "t"}, "queue": {"type": "t"},
        "worker": {"type": "t", "scaling": {"min": 3, "max": 5}}},
        [("worker", "queue")])
    assert setup.cli("build", str(full)).returncode == 0
    smaller = describe(tmp_path / "smaller", "shop", {"db": {"type": "t"}})
    proc = setup.cli("plan", str(smaller), "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    drops = {node: n["drop"] for node, n in plan["nodes"].items() if n["drop"]}
    assert drops == {"queue": 1, "worker": 3}
    proc = setup.cli("plan", str(smaller))
    assert "no longer in the description" in proc.stdout
    assert "node 'worker' is no longer in the description: its 3 instance(s) are " \
           "dropped" in proc.stderr
    assert setup.cli("build", str(smaller)).returncode == 0
    status = json.loads(setup.cli("status", "-i", "shop", "--json").stdout)
    assert [n["name"] for n in status["nodes"]] == ["db"]
    occo = setup.occo()
    try:
        [record] = occo.store.list_infrastructures()
        assert {r.node_name for r in occo.store.list_instances(record.infra_id)} == {"db"}
    finally:
        occo.close()


def test_build_with_an_id_and_a_description_of_another_name_is_refused(setup, tmp_path):
    shop = describe(tmp_path / "shop", "shop", {"db": {"type": "t"}})
    other = describe(tmp_path / "other", "other", {"db": {"type": "t"}})
    assert setup.cli("build", str(shop)).returncode == 0
    for command in ("build", "plan"):
        proc = setup.cli(command, "-i", "shop", str(other))
        assert proc.returncode == 2, proc.stderr
        assert "is named 'shop', but the description is of 'other': build it without -i " \
               "to make a new infrastructure, or set its infra_name to 'shop'" in proc.stderr
    occo = setup.occo()
    try:
        [record] = occo.store.list_infrastructures()
        assert record.name == "shop" and record.status == "ready"
        assert record.description["infra_name"] == "shop"
    finally:
        occo.close()
