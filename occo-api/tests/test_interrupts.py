"""Ctrl-C at every stage of `occo build`, in a real process: while the description is
still being read (nothing stored: exit 130 within a second), while the pass decides
(nothing created, the infrastructure as it was), and twice (left at once, but recorded
as failed with an event saying how to clean up, never `cancelling` for ever).

The stages are made long by a driver that wraps one of OCCO's functions with a sleep, so
the interrupt lands in the stage the test names, however fast the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from e2e import Setup, local_definition, two_tier, write_description

from occo.infobroker import SQLiteStore
from occo.util.testing import wait_until

DRIVER = textwrap.dedent('''
    import sys, time
    from occo.api import core
    from occo.enactor import service

    stage = sys.argv[1]
    cls, name = {"validate": (core.Occo, "validate"),
                 "decide": (service.Enactor, "decide")}[stage]
    original = getattr(cls, name)

    def slow(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        print(f"[driver] {stage} done, sleeping", file=sys.stderr, flush=True)
        time.sleep(60)
        return result

    setattr(cls, name, slow)
    from occo.api.cli import main
    sys.exit(main(sys.argv[2:]))
''')


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


def interrupted_build(setup: Setup, stage: str, infra, *, times: int = 1):
    """Run `occo build INFRA` with ``stage`` slowed down; Ctrl-C it ``times`` once the
    stage is done; (exit code, stderr, seconds from the first Ctrl-C to the exit)."""
    driver = setup.root / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.Popen(
        [sys.executable, str(driver), stage, "--config", str(setup.config_file), "build",
         str(infra)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=setup.env(), start_new_session=True)
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("[driver]"):
                break
        else:
            raise AssertionError("the driver never reached its stage: " + "".join(seen))
        began = time.monotonic()
        for i in range(times):
            os.killpg(proc.pid, signal.SIGINT)
            if i + 1 < times:
                time.sleep(0.3)
        _, err = proc.communicate(timeout=30)
        return proc.returncode, "".join(seen) + err, time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()


def infrastructures(setup: Setup):
    store = SQLiteStore(setup.state)
    try:
        return [(r, store.list_instances(r.infra_id),
                 [e.type for e in store.read_events(r.infra_id, after=0)])
                for r in store.list_infrastructures()]
    finally:
        store.close()


@pytest.mark.timeout(90)
def test_ctrl_c_while_the_description_is_read_leaves_at_once_with_nothing_stored(
        setup, tmp_path):
    code, err, took = interrupted_build(setup, "validate", two_tier(tmp_path / "d"))
    assert code == 130, err
    assert "interrupted before anything was created or stored" in err
    assert took < 5   # the command does not wait for the 60 s the stage still sleeps
    assert infrastructures(setup) == []


@pytest.mark.timeout(90)
def test_ctrl_c_while_deciding_leaves_at_once_and_creates_nothing(setup, tmp_path):
    code, err, took = interrupted_build(setup, "decide", two_tier(tmp_path / "d"))
    assert code == 130, err
    assert "interrupted before anything was created" in err
    assert took < 5
    [(record, instances, events)] = infrastructures(setup)
    assert record.status == "cancelled" and instances == []
    assert "node.creating" not in events and events[-1] == "build.cancelled"


@pytest.mark.timeout(90)
def test_ctrl_c_while_rebuilding_a_ready_infrastructure_keeps_it_as_it_was(setup, tmp_path):
    infra = two_tier(tmp_path / "d")
    assert setup.cli("build", str(infra)).returncode == 0
    code, err, _ = interrupted_build(setup, "decide", infra)
    assert code == 130, err
    [(record, instances, events)] = infrastructures(setup)
    assert record.status == "ready" and len(instances) == 3
    assert events[-1] == "build.cancelled"


@pytest.mark.timeout(120)
def test_ctrl_c_twice_leaves_at_once_and_says_so_in_the_store(setup, tmp_path):
    # the node ignores SIGTERM, so rolling it back waits out its 10 s grace period: only
    # the second Ctrl-C ends the command before that
    stubborn = local_definition("trap '' TERM; exec sleep 600",
                                resource={"grace_period": 10},
                                health_check={"ping": False, "ports": [9]})
    infra = write_description(tmp_path / "d", "stubborn", {"db": {"type": "t"}}, [],
                              {"t": [stubborn]})
    proc = setup.spawn("build", str(infra))
    try:
        def running():
            found = infrastructures(setup)
            return found and any(i.state == "starting" or i.addresses for i in found[0][1])
        wait_until(running, timeout=60, what="the node to start")
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(1.0)
        assert proc.poll() is None   # rolling back: waiting for the node to stop
        began = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        assert time.monotonic() - began < 10
    finally:
        if proc.poll() is None:
            proc.kill()
    [(record, _, events)] = infrastructures(setup)
    assert record.status == "failed"
    assert events[-1] == "build.abandoned"
    setup.cli("destroy", "-i", record.infra_id, timeout=120)
