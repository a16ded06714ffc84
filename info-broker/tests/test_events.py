"""follow_events: a reader follows a growing log without missing or repeating events."""

from __future__ import annotations

import threading

from occo.infobroker import Event, InfraRecord, follow_events


def test_follow_reads_what_is_there_and_stops_when_caught_up(store):
    store.create_infrastructure(InfraRecord(infra_id="f", name="x"))
    store.append_events([Event(type=f"e{n}", infra_id="f") for n in range(2500)])
    seen = [e.position for e in follow_events(store, "f", after=3)]
    assert seen == list(range(4, 2501))


def test_follow_sees_events_appended_while_it_waits(store):
    store.create_infrastructure(InfraRecord(infra_id="f", name="x"))
    stop = threading.Event()
    got: list[str] = []
    first_seen = threading.Event()

    def writer() -> None:
        first_seen.wait(timeout=30)
        store.append_events([Event(type=f"later{n}", infra_id="f") for n in range(3)])

    store.append_event(Event(type="first", infra_id="f"))
    thread = threading.Thread(target=writer)
    thread.start()
    for event in follow_events(store, "f", interval=0.01, stop=stop):
        got.append(event.type)
        first_seen.set()
        if len(got) == 4:
            stop.set()
    thread.join(timeout=30)
    assert got == ["first", "later0", "later1", "later2"]
