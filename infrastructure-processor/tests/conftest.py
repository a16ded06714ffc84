"""A store, the in-process transport and simulated endpoints around one Processor."""

from __future__ import annotations

import pytest
from endpoints import SimCloud, SimComposer

from occo.compiler import StaticDescription, compile_infrastructure
from occo.infobroker import InfraRecord, MemoryStore
from occo.infraprocessor import ProcessingConfig, Processor
from occo.util import Field, Schema
from occo.util.comm import InProcessTransport
from occo.util.instructions import CreateInfrastructure, CreateNode, RunScope
from occo.util.ratelimit import Backoff

FAST = ProcessingConfig(max_parallel=64, rate=0, batch_size=8, poll_interval=0.02,
                        first_poll=0.005, create_timeout=5, health_timeout=5, max_attempts=3,
                        call_retries=3, drop_retries=3, backoff=Backoff(0.001, 2, 0.01))


#: the simulated cloud's resource section (what SimCloud reads); in place of the schemas
#: the cloud handler's entry points give the compiler in a full installation
SIM = Schema("sim resource", (Field("type", "str", required=True), Field("endpoint", "str"),
                              Field("image", "str")))


def description(counts: dict[str, int], edges: list[tuple[str, str]], *,
                name: str = "test") -> StaticDescription:
    """A description compiled by the compiler, as a build gets it: node ``n`` of type
    ``n_t`` with ``counts[n]`` instances (min = max), one sim implementation per type, and
    ``(dependent, dependency)`` edges."""
    infra = {"infra_name": name,
             "nodes": [{"name": n, "type": f"{n}_t", "scaling": {"min": c, "max": c}}
                       for n, c in counts.items()],
             "dependencies": [{"connection": [a, b]} for a, b in edges]}
    definitions = {f"node_def:{n}_t": [{"resource": {"type": "sim", "endpoint": "e1"}}]
                   for n in counts}
    return compile_infrastructure(infra, definitions, resource_schemas={"sim": SIM},
                                  config_managers=(), health_checks=())


def instructions(infra_id: str, desc: StaticDescription) -> list:
    """What the enactor sends for a first build of ``desc``: the run's scope, then each
    node's instances at their minimum, with its first implementation."""
    out = [RunScope.of(desc, infra_id), CreateInfrastructure(infra_id=infra_id)]
    for node in desc.nodes:
        plain = node.to_dict()
        for i in range(node.scaling.min):
            out.append(CreateNode(infra_id=infra_id, instance_id=f"{node.name}-{i}",
                                  node=plain, implementation=plain["implementations"][0],
                                  waits_for=desc.dependencies_of(node.name), reason="test"))
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

    def add_infra(self, desc: StaticDescription, infra_id: str = "infra-1") -> str:
        self.store.create_infrastructure(InfraRecord(infra_id=infra_id, name=desc.infra_name,
                                                     description=desc.to_dict()))
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
