"""Enactor.cancel: the status people read, then the request every processor reads (an
event in the log), then the call to the processor that may be running the build."""

from __future__ import annotations

from occo.enactor import Enactor, MaintenanceConfig
from occo.infobroker import InfraRecord, MemoryStore
from occo.util import CANCEL_REQUESTED, InfraStatus


class Processor:
    """Records what it is called with; answers like a processor running no build."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.seen: list[tuple[str, dict, InfraStatus, list[str]]] = []

    def call(self, method, timeout=None, **params):
        record = self.store.get_infrastructure(params["infra_id"])
        events = [e.type for e in self.store.read_events(params["infra_id"])]
        self.seen.append((method, params, record.status, events))
        return False


class Unused:
    def call(self, *args, **kwargs):
        raise AssertionError("no call expected")


def test_a_cancel_is_written_as_a_status_and_an_event_before_the_processor_is_called():
    store = MemoryStore()
    store.create_infrastructure(InfraRecord(infra_id="i", name="n",
                                            status=InfraStatus.BUILDING))
    processor = Processor(store)
    enactor = Enactor(store, processor=processor, cloud=Unused(), composer=Unused(),
                      config=MaintenanceConfig(), holder="here:1:me")
    assert enactor.cancel("i") is False            # no build was running at that processor
    [(method, params, status, events)] = processor.seen
    assert method == "cancel" and params == {"infra_id": "i"}
    assert status is InfraStatus.CANCELLING and events == [CANCEL_REQUESTED]
    [event] = store.read_events("i")
    assert event.details == {"by": "here:1:me"}
