"""The state file removed or replaced during a build: the build stops at its next store
access with an error naming the file, drops at the cloud what it had created (from what
it holds in memory: nothing can be recorded any more), and leaves no new state file."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest
from e2e import Setup, write_description

from occo.util import OccoError

APPS = 8


def description(setup: Setup):
    return write_description(setup.root / "d", "gone", {
        "db": {"type": "t"}, "app": {"type": "t", "scaling": {"min": APPS, "max": APPS}}},
        [("app", "db")], {"t": [{"resource": {"type": "dummy", "create_latency": 0.4}}]})


def live_at_cloud(setup: Setup) -> int:
    with sqlite3.connect(setup.root / "dummy.sqlite") as conn:
        return conn.execute("SELECT count(*) FROM nodes WHERE dropped_at IS NULL").fetchone()[0]


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_build_whose_state_file_goes_stops_and_drops_what_it_made(tmp_path, how):
    setup = Setup(tmp_path)
    setup.write_config()
    infra = description(setup)
    elsewhere = tmp_path / "elsewhere.sqlite"
    sqlite3.connect(elsewhere).close()

    def take_it_away() -> None:
        if how == "removed":
            os.unlink(setup.state)
        else:
            os.replace(elsewhere, setup.state)

    with setup.occo() as occo:
        occo.validate(infra)
        timer = threading.Timer(0.6, take_it_away)
        timer.start()
        with pytest.raises(OccoError) as caught:
            occo.build(infra)
        timer.join()
    message = str(caught.value)
    assert f"the state file {setup.state} was {how}" in message, message
    assert "node(s) this run had created were dropped" in message, message
    assert live_at_cloud(setup) == 0, "nodes left running untracked"
    if how == "removed":
        assert not setup.state.exists(), "a new, empty state file was made"
    else:
        with sqlite3.connect(setup.state) as conn:
            assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_the_cli_says_so_without_a_traceback(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config()
    infra = description(setup)
    proc = setup.spawn("build", str(infra))
    started = time.monotonic()
    while not setup.state.exists() and time.monotonic() - started < 30:
        time.sleep(0.05)
    time.sleep(0.5)
    os.unlink(setup.state)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err
    assert f"the state file {setup.state} was removed" in err, err
    assert live_at_cloud(setup) == 0
