"""A store, the in-process transport and simulated endpoints around one Processor."""

from __future__ import annotations

import pytest
from endpoints import SimCloud, SimComposer

from occo.infobroker import InfraRecord, MemoryStore
from occo.infraprocessor import ProcessingConfig, Processor
from occo.util.comm import InProcessTransport
from occo.util.instructions import CreateInfrastructure, CreateNode, RunScope
from occo.util.ratelimit import Backoff

FAST = ProcessingConfig(max_parallel=64, rate=0, batch_size=8, poll_interval=0.02,
                        first_poll=0.005, create_timeout=5, health_timeout=5, max_attempts=3,
                        call_retries=3, drop_retries=3, backoff=Backoff(0.001, 2, 0.01))


def description(counts: dict[str, int], edges: list[tuple[str, str]]) -> dict:
    return {"format": 1, "infra_name": "test", "user_id": None, "variables": {},
            "nodes": [{"name": n, "type": f"{n}_t", "scaling": {"min": c, "max": c},
                       "filter": {}, "variables": {},
                       "implementations": [{"resource": {"type": "sim", "endpoint": "e1"}}]}
                      for n, c in counts.items()],
            "edges": [{"dependent": a, "dependency": b, "mappings": []} for a, b in edges]}


def instructions(infra_id: str, desc: dict) -> list:
    waits = {n["name"]: tuple(e["dependency"] for e in desc["edges"]
                              if e["dependent"] == n["name"]) for n in desc["nodes"]}
    out = [RunScope.of(desc, infra_id), CreateInfrastructure(infra_id=infra_id)]
    for node in desc["nodes"]:
        for i in range(node["scaling"]["min"]):
            out.append(CreateNode(infra_id=infra_id, instance_id=f"{node['name']}-{i}",
                                  node=node, implementation=node["implementations"][0],
                                  waits_for=waits[node["name"]], reason="test"))
    return out


class World:
    """Everything one test needs; ``build`` stores the description and executes it."""

    def __init__(self, config: ProcessingConfig = FAST, cloud: SimCloud | None = None,
                 composer: SimComposer | None = None) -> None:
        self.store = MemoryStore()
        self.cloud = cloud or SimCloud()
        self.composer = composer or SimComposer()
        self.transport = InProcessTransport(check_json=True)
        self.transport.serve("cloudhandler", self.cloud, concurrency=16)
        self.transport.serve("servicecomposer", self.composer, concurrency=4)
        self.processor = Processor(self.store, cloud=self.transport.client("cloudhandler"),
                                   composer=self.transport.client("servicecomposer"),
                                   config=config, seed=1)

    def add_infra(self, desc: dict, infra_id: str = "infra-1") -> str:
        self.store.create_infrastructure(InfraRecord(infra_id=infra_id, name="test",
                                                     description=desc))
        return infra_id

    def build(self, counts, edges=(), **kwargs) -> dict:
        desc = description(counts, list(edges))
        infra_id = self.add_infra(desc)
        return self.processor.execute(infra_id, [i.to_dict() for i in
                                                 instructions(infra_id, desc)], **kwargs)

    def events(self, infra_id: str = "infra-1") -> list:
        return self.store.read_events(infra_id, after=0, limit=100_000)

    def close(self) -> None:
        self.transport.close()


@pytest.fixture
def world():
    w = World()
    yield w
    w.close()
