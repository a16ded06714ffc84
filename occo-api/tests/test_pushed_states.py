"""States the cloud pushes: a local node whose command dies while its health check is
still failing is reported with its exit code when it dies, not at the health timeout."""

from __future__ import annotations

import time

import pytest
from e2e import Setup, local_definition, write_description

from occo.infobroker import SQLiteStore

HEALTH_TIMEOUT = 300   # far longer than the test may take: only the pushed exit can end it


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config(processing={"health_timeout": HEALTH_TIMEOUT, "max_attempts": 2})
    return s


@pytest.mark.timeout(120)
def test_a_command_dying_during_its_health_check_fails_the_build_with_its_exit_code(
        setup, tmp_path):
    # nothing listens on port 9: the health check never passes; the command ends with 7
    dying = local_definition("echo about to fail; sleep 1; exit 7",
                             health_check={"ping": False, "ports": [9]})
    infra = write_description(tmp_path / "d", "dying", {"db": {"type": "t"}}, [],
                              {"t": [dying]})
    began = time.monotonic()
    proc = setup.cli("build", str(infra), timeout=100)
    took = time.monotonic() - began
    assert proc.returncode == 1, proc.stderr
    assert "exited with code 7" in proc.stderr
    assert "about to fail" in proc.stderr      # the log tail comes with it
    assert took < HEALTH_TIMEOUT / 3
    store = SQLiteStore(setup.state)
    try:
        [record] = store.list_infrastructures()
        failed = [e for e in store.read_events(record.infra_id, after=0)
                  if e.type == "node.failed"]
        assert len(failed) == 2   # the first instance and its one replacement
        assert all("exited with code 7" in e.details["reason"] for e in failed)
        assert store.list_instances(record.infra_id) == []   # rolled back
    finally:
        store.close()
