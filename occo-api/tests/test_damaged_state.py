"""A state file with a damaged record: the commands that need the record say which record
of which file is damaged (exit 1, no traceback) and write nothing; the commands about other
infrastructures work; `occo list` lists every infrastructure and marks the damaged one;
`occo maintain` maintains the others; `occo store check` lists the damaged records."""

from __future__ import annotations

import json
import sqlite3

import pytest
from e2e import DUMMY, Setup, write_description

TABLES = ("infrastructures", "instances", "implementations", "events", "scaling_requests",
          "scaling_targets", "failure_timers")


def build(setup: Setup, name: str) -> str:
    infra = write_description(setup.root / name, name, {
        "db": {"type": "t"}, "app": {"type": "t", "scaling": {"min": 2, "max": 3}}},
        [("app", "db")], {"t": DUMMY})
    with setup.occo() as occo:
        return occo.build(infra)["infra_id"]


def snapshot(setup: Setup) -> dict[str, list]:
    with sqlite3.connect(setup.state) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in TABLES}


@pytest.fixture
def damaged(tmp_path):
    """Two built infrastructures; one app instance of ``broken`` holds text that is not
    JSON. Returns (setup, broken's id, the damaged instance's id, good's id)."""
    setup = Setup(tmp_path)
    setup.write_config()
    broken, good = build(setup, "broken"), build(setup, "good")
    with sqlite3.connect(setup.state) as conn:
        instance_id = conn.execute("SELECT instance_id FROM instances WHERE infra_id = ? "
                                   "AND node_name = 'app' ORDER BY instance_id",
                                   (broken,)).fetchone()[0]
        conn.execute("UPDATE instances SET body = ? WHERE instance_id = ?",
                     ('{"node_name": "app", "sta', instance_id))
    return setup, broken, instance_id, good


def assert_names_the_record(text: str, setup: Setup, instance_id: str, infra_id: str) -> None:
    assert f"the instance record {instance_id} of infrastructure {infra_id}" in text, text
    assert str(setup.state) in text and "is damaged (its JSON does not parse" in text, text
    assert "Traceback" not in text


@pytest.mark.parametrize("command", [
    ["status", "-i", "broken"],
    ["events", "-i", "broken"],     # reads the infrastructure first: fine, but see below
    ["scale", "-i", "broken", "-n", "app", "-c", "1"],
    ["scale", "-i", "broken", "-n", "app", "-c", "1", "--queue-only"],
    ["scale", "-i", "broken", "-n", "app", "-s", "3"],
    ["maintain", "-i", "broken"],
    ["destroy", "-i", "broken"],
    ["plan", "-i", "broken"],
])
def test_commands_that_need_the_record_name_it_and_write_nothing(damaged, command):
    setup, broken, instance_id, _ = damaged
    before = snapshot(setup)
    proc = setup.cli(*command)
    if command[0] == "events":      # the event log does not need the instance records
        assert proc.returncode == 0, proc.stderr
        assert "infra.ready" in proc.stdout
        return
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert_names_the_record(proc.stderr, setup, instance_id, broken)
    assert snapshot(setup) == before, f"occo {' '.join(command)} wrote to the state"


def test_building_the_damaged_infrastructure_again_writes_nothing(damaged):
    setup, broken, instance_id, _ = damaged
    before = snapshot(setup)
    proc = setup.cli("build", str(setup.root / "broken" / "infra.yaml"))
    assert proc.returncode == 1, proc.stderr
    assert_names_the_record(proc.stderr, setup, instance_id, broken)
    assert snapshot(setup) == before      # not even the status "building"


def test_the_other_infrastructure_still_works(damaged):
    setup, broken, instance_id, good = damaged
    status = json.loads(setup.cli("status", "-i", "good", "--json", check=True).stdout)
    assert status["ready"] == 3
    setup.cli("scale", "-i", "good", "-n", "app", "-c", "1", check=True)
    assert json.loads(setup.cli("status", "-i", "good", "--json",
                                check=True).stdout)["ready"] == 4
    listed = setup.cli("list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line.split() for line in listed.stdout.splitlines()[2:]}
    assert rows["broken"][2] == "damaged" and rows["broken"][3] == "?"
    assert rows["good"][2] == "ready" and rows["good"][3] == "4/4"
    assert_names_the_record(listed.stderr, setup, instance_id, broken)
    maintained = setup.cli("maintain")
    assert maintained.returncode == 1       # one of them could not be maintained
    assert f"{broken}: damaged" in maintained.stdout
    assert f"{good}: unchanged" in maintained.stdout
    proc = setup.cli("destroy", "-i", "good", check=True)
    assert "destroyed" in proc.stdout


def test_store_check_lists_the_damaged_records(damaged):
    setup, broken, instance_id, good = damaged
    with sqlite3.connect(setup.state) as conn:       # and one event of it, too
        conn.execute("UPDATE events SET body = '[]' WHERE infra_id = ? AND position = 1",
                     (broken,))
        # and in the other one, a field a read does not check: a check finds it
        good_id, body = conn.execute("SELECT instance_id, body FROM instances WHERE "
                                     "infra_id = ? AND node_name = 'db'", (good,)).fetchone()
        fields = json.loads(body)
        fields["ready_at"] = "soon"
        conn.execute("UPDATE instances SET body = ? WHERE instance_id = ?",
                     (json.dumps(fields), good_id))
    before = snapshot(setup)
    proc = setup.cli("store", "check", "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    found = {(d["kind"], d["key"], d["infra_id"]) for d in report["damaged"]}
    assert found == {("instance", instance_id, broken), ("event", "#1", broken),
                     ("instance", good_id, good)}
    assert "ready_at must be a finite number" in {d["key"]: d["reason"]
                                           for d in report["damaged"]}[good_id]
    text = setup.cli("store", "check")
    assert f"damaged: instance {instance_id} of infrastructure {broken}: its JSON does not " \
           f"parse" in text.stdout
    assert "damaged: event #1" in text.stdout and "it holds a JSON list" in text.stdout
    assert snapshot(setup) == before


def test_a_damaged_infrastructure_record_leaves_the_others_usable(damaged):
    setup, broken, _, good = damaged
    with sqlite3.connect(setup.state) as conn:
        conn.execute("UPDATE infrastructures SET body = 'garbage' WHERE infra_id = ?",
                     (broken,))
    listed = setup.cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = {e["infra_id"]: e for e in json.loads(listed.stdout)}
    assert entries[broken]["status"] == "damaged" and entries[broken]["name"] is None
    assert f"the infrastructure record {broken}" in entries[broken]["damaged"]
    assert entries[good]["status"] == "ready"
    assert setup.cli("status", "-i", "good").returncode == 0
    unknown = setup.cli("status", "-i", "broken")      # its name cannot be read any more
    assert unknown.returncode == 2
    assert f"1 that cannot be read (damaged: {broken})" in unknown.stderr
    by_id = setup.cli("status", "-i", broken)
    assert by_id.returncode == 1 and f"the infrastructure record {broken}" in by_id.stderr
    defaulted = setup.cli("status")        # not "the only one": there are two
    assert defaulted.returncode == 2 and "cannot be read" in defaulted.stderr
