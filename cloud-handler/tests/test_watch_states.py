"""watch_states: a backend that can wait for its nodes' state changes (local: a pidfd per
running command; docker: the engine's event stream) answers when one happens, with the
new state; a backend that cannot is never asked to; closing ends a watch under way."""

from __future__ import annotations

import threading
import time

import pytest
from test_dockerengine import handler_of
from test_dockerengine import wait_state as docker_wait_state
from test_local import spec, wait_state

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.base import MAX_WATCH
from occo.cloudhandler.contract import make_spec
from occo.util import new_id


def watch_until(service, ref, wanted: set[str], *, rounds: int = 10) -> dict:
    """Watch ``ref`` from its current state until it is in ``wanted``, as the processor
    does: each answer's state is the next watch's known one."""
    iid = ref["instance_id"]
    known = service.get_states([ref])[iid]["state"]
    for _ in range(rounds):
        changed = service.watch_states([ref], {iid: known}, timeout=MAX_WATCH)
        assert changed, f"no change within {MAX_WATCH:g} s from {known!r}"
        status = changed[iid]
        if status["state"] in wanted:
            return status
        assert status["state"] != known
        known = status["state"]
    raise AssertionError(f"not in {wanted} after {rounds} changes")


def test_local_a_running_command_that_exits_is_answered_with_its_exit_code(local):
    ref = local.create_node(spec("echo warming up; sleep 1; exit 5", node="short"))
    wait_state(local, ref, {"running"})
    status = watch_until(local, ref, {"failed"})
    assert status["exit_code"] == 5 and status["raw"] == "exited"
    assert "warming up" in status["detail"]


def test_local_a_start_is_answered_and_an_unchanged_node_waits_out_the_timeout(local):
    ref = local.create_node(spec("exec sleep 300", node="long"))
    iid = ref["instance_id"]
    assert local.watch_states([ref], {iid: "pending"}, timeout=MAX_WATCH)[iid]["state"] \
        == "running"
    assert local.watch_states([ref], {}, timeout=MAX_WATCH)[iid]["state"] == "running"
    began = time.monotonic()
    assert local.watch_states([ref], {iid: "running"}, timeout=0.3) == {}
    assert time.monotonic() - began >= 0.3
    answers: list[dict] = []
    watcher = threading.Thread(target=lambda: answers.append(local.watch_states(
        [ref], {iid: "running"}, timeout=MAX_WATCH)))
    watcher.start()
    time.sleep(0.2)
    assert local.drop_node(ref) == {}
    watcher.join(timeout=MAX_WATCH + 1)
    assert answers[0][iid]["state"] in ("stopping", "terminated", "missing")


def test_local_closing_the_service_ends_a_watch_under_way(root):
    service = CloudHandlerService({"local": {"root": str(root), "grace_period": 1}})
    ref = service.create_node(spec("exec sleep 300", node="long"))
    wait_state(service, ref, {"running"})
    answers: list[dict] = []
    watcher = threading.Thread(target=lambda: answers.append(service.watch_states(
        [ref], {ref["instance_id"]: "running"}, timeout=MAX_WATCH)))
    watcher.start()
    time.sleep(0.2)
    service.close()
    watcher.join(timeout=2)
    try:
        assert not watcher.is_alive() and answers == [{}]
    finally:
        CloudHandlerService({"local": {"root": str(root)}}).drop_nodes([ref])


def test_a_backend_that_cannot_watch_is_answered_empty_at_once(tmp_path):
    service = CloudHandlerService({"dummy": {"store": str(tmp_path / "dummy.sqlite")}})
    try:
        res = {"type": "dummy", "create_latency": 0.0}
        ref = service.create_node(make_spec(res, infra_id=new_id()))
        assert service.limits(res)["watches"] is False
        began = time.monotonic()
        assert service.watch_states([ref], {ref["instance_id"]: "pending"}, timeout=3) == {}
        assert time.monotonic() - began < 1
        with pytest.raises(NotImplementedError, match="does not watch"):
            service.handler_for(res).watch_states([ref], {}, 1)
    finally:
        service.close()


def test_docker_a_container_that_dies_is_answered_from_the_event_stream(docker_engine):
    service = CloudHandlerService({"docker": {"stop_timeout": 2}})
    try:
        res = docker_engine.resource()
        assert service.limits(res)["watches"] is True
        spec_ = make_spec(res, infra_id=new_id(), node="short", context={
            "type": "docker", "env": [], "command": ["sh", "-c", "sleep 2; exit 4"]})
        ref = service.create_node(spec_)
        docker_wait_state(service, [ref], {"running"})
        handler = handler_of(service, res)
        handler.calls.clear()
        status = watch_until(service, ref, {"failed"})
        assert status["exit_code"] == 4 and status["raw"] == "exited"
        # the 2 s it ran were waited in the event stream, not polled: a look before the
        # stream, and a few after the die event until the list shows it
        assert handler.calls["GET /events"] >= 1
        assert handler.calls["GET /containers/json"] <= 10
        assert service.drop_nodes([ref]) == [{}]
    finally:
        service.close()
