"""A run reads no description: what it needs of it comes in its instructions (a RunScope
first, then CreateNodes), also for the instances a previous run left half made."""

from __future__ import annotations

import pytest
from conftest import World, description, instructions
from endpoints import SimComposer

from occo.infobroker import InstanceRecord, InstanceState, Intent, MemoryStore
from occo.util import CreateNode, RunScope


class NoDescriptionStore(MemoryStore):
    """Counts every read of an infrastructure record (where the description is)."""

    def __init__(self) -> None:
        super().__init__()
        self.infra_reads = 0

    def get_infrastructure(self, infra_id):
        self.infra_reads += 1
        return super().get_infrastructure(infra_id)

    def list_infrastructures(self, **kwargs):
        self.infra_reads += 1
        return super().list_infrastructures(**kwargs)


class RecordingComposer(SimComposer):
    def __init__(self) -> None:
        super().__init__()
        self.requests: dict[str, dict] = {}

    def resolve_many(self, requests):
        for req in requests:
            self.requests[req["instance_id"]] = req
        return super().resolve_many(requests)


def test_a_run_reads_no_description_and_resumes_with_the_scopes_dependencies():
    composer = RecordingComposer()
    w = World(composer=composer)
    w.store = NoDescriptionStore()
    w.processor.store = w.store
    try:
        desc = description({"db": 1, "app": 1, "lb": 1}, [("app", "db"), ("lb", "app")],
                           name="three")
        infra_id = w.add_infra(desc)
        # a previous run recorded the intent of an lb instance, then died
        lb = desc.node("lb")
        w.store.add_instances([InstanceRecord(
            instance_id="old-lb", infra_id=infra_id, node_name="lb",
            implementation=lb.implementations[0].to_dict(), intent=Intent.CREATING,
            state=InstanceState.PENDING)])
        ins = [i for i in instructions(infra_id, desc) if getattr(i, "node_name", "") != "lb"]
        w.store.infra_reads = 0
        outcome = w.processor.execute(infra_id, [i.to_dict() for i in ins])
        assert outcome["status"] == "ready" and outcome["ready"] == 3
        assert w.store.infra_reads == 0
        # the resumed lb waited for app (the scope's waits_for) and its request names its
        # direct and indirect dependencies (the scope's node part)
        ready = {r.instance_id: r.ready_at for r in w.store.list_instances(infra_id)}
        assert ready["old-lb"] >= ready["app-0"]
        request = composer.requests["old-lb"]
        assert request["node"]["dependencies"] == ["app", "db"]
        assert request["infra_name"] == "three"
    finally:
        w.close()


def test_a_create_without_a_scope_naming_its_node_is_refused_before_anything_is_done(world):
    desc = description({"web": 2, "db": 1}, [("web", "db")])
    infra_id = world.add_infra(desc)
    creates = [i for i in instructions(infra_id, desc) if isinstance(i, CreateNode)]
    only_db = RunScope(infra_id=infra_id, nodes={"db": RunScope.of(desc, infra_id).nodes["db"]})
    for given in ([c.to_dict() for c in creates], [only_db.to_dict()] +
                  [c.to_dict() for c in creates]):
        with pytest.raises(ValueError,
                           match=r"CreateNode of (db, )?web without a RunScope naming it"):
            world.processor.execute(infra_id, given)
    assert world.store.list_instances(infra_id) == [] and world.cloud.created_order == []
    assert world.events(infra_id) == []
