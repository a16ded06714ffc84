"""The maintain loop with an infrastructure whose passes fail: tried again less and less
often (a queued scaling request does not hurry it), each distinct failure one event and
one warning, and the first pass that works again a recovery event."""

from __future__ import annotations

import logging
import threading

from occo.enactor import Enactor, MaintenanceConfig
from occo.infobroker import InfraRecord, MemoryStore, ScalingRequest
from occo.util.secrets import forget_secrets, register_secret

INTERVAL = 0.05


class Unused:
    def call(self, *args, **kwargs):
        raise AssertionError("no endpoint call expected")


class Scripted(Enactor):
    """An enactor whose passes answer from a script: an exception to raise, or an outcome."""

    def __init__(self, store, script):
        super().__init__(store, processor=Unused(), cloud=Unused(), composer=Unused(),
                         config=MaintenanceConfig(interval=INTERVAL, wake_check=0.005,
                                                  failure_backoff_cap=8 * INTERVAL))
        self.script = list(script)
        self.passes = 0
        self.done = threading.Event()

    def maintain_once(self, infra_id, **kwargs):
        self.passes += 1
        step = self.script.pop(0) if self.script else {"status": "unchanged"}
        if not self.script:
            self.done.set()
        if isinstance(step, BaseException):
            raise step
        return step


def run(enactor, seconds):
    stop = threading.Event()
    loop = threading.Thread(target=enactor.loop, args=(lambda: ["infra-1"], stop))
    loop.start()
    enactor.done.wait(seconds)
    stop.set()
    loop.join(timeout=5)
    assert not loop.is_alive()


def a_store() -> MemoryStore:
    store = MemoryStore()
    store.create_infrastructure(InfraRecord(infra_id="infra-1", name="one", status="ready",
                                            maintained=True))
    return store


def events(store):
    return [(e.type, e.details.get("message"), e.details.get("attempts"))
            for e in store.read_events("infra-1", after=0)]


def test_a_failing_pass_is_tried_less_and_less_often_and_told_once(caplog):
    store = a_store()
    # a queued request would wake the loop every wake_check if failures did not hold it
    store.push_scaling_request(ScalingRequest(infra_id="infra-1", node_name="web",
                                              kind="create", count=2))
    register_secret("hunter2")   # a credential, as loading auth_data registers them
    enactor = Scripted(store, [RuntimeError("the cloud said no to hunter2")] * 50)
    with caplog.at_level(logging.INFO, logger="occo.enactor.service"):
        run(enactor, 1.0)
    # backoff 0.05, 0.1, 0.2, 0.4, 0.4...: a handful of passes in a second, not 200
    assert 3 <= enactor.passes <= 8
    told = [e for e in events(store) if e[0] == "maintenance.failed"]
    assert len(told) == 1 and told[0][2] == 1
    assert "the cloud said no" in told[0][1] and "hunter2" not in told[0][1]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "tried again in" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.INFO)
    assert not any("hunter2" in r.getMessage() for r in caplog.records)
    forget_secrets()


def test_each_distinct_failure_is_told_and_recovery_is_an_event():
    store = a_store()
    failed = {"status": "failed", "failures": [{"node": "db", "reason": "quota exceeded"}]}
    enactor = Scripted(store, [RuntimeError("unreachable"), RuntimeError("unreachable"),
                               failed, {"status": "ready"}])
    run(enactor, 10.0)
    assert enactor.done.is_set() and enactor.passes == 4
    assert events(store) == [
        ("maintenance.failed", "unreachable", 1),
        ("maintenance.failed", "node db: quota exceeded", 3),
        ("maintenance.recovered", "maintenance works again after 3 failed pass(es)", 3)]
