"""The pace of a cloud is its own: the limits its cloud handler declares, overridden by
``processing:`` for every cloud and by ``clouds.<type>`` for one; a create's ``ready_at``
says when to look."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from conftest import FAST, World
from endpoints import SimCloud

from occo.infraprocessor import ProcessingConfig

# FAST with the pace left to the cloud
UNSET = replace(FAST, max_parallel=None, rate=None, burst=None, batch_size=None,
                poll_interval=None, first_poll=None)


@dataclass
class PacedCloud(SimCloud):
    """A SimCloud that declares its limits, as every cloud handler service does."""

    cloud_limits: dict = field(default_factory=dict)
    configured: dict = field(default_factory=dict)
    ready_hint: bool = False

    RPC_METHODS = SimCloud.RPC_METHODS + ("limits",)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.asked: list[dict] = []
        self.state_calls: list[float] = []

    def limits(self, resource: dict) -> dict:
        self.asked.append(resource)
        return {"endpoint": "sim:e1", "cloud": self.cloud_limits, "configured": self.configured}

    def _create(self, spec: dict) -> dict:
        result = super()._create(spec)
        if self.ready_hint and "ref" in result:
            res = self.resources[spec["instance_id"]]
            # the epoch time at which it will run (the ref's clock is time.time)
            result["ref"]["ready_at"] = time.time() + res.latency - (time.monotonic()
                                                                     - res.created)
        return result

    def get_states(self, refs: list[dict]) -> dict:
        self.state_calls.append(time.monotonic())
        return super().get_states(refs)


CLOUD = {"max_parallel": 2, "rate": 0, "batch_size": 1, "poll_interval": 0.02,
         "first_poll": 0.005}


def build(config: ProcessingConfig, cloud: PacedCloud, count: int = 10) -> dict:
    w = World(config=config, cloud=cloud)
    try:
        result = w.build({"web": count})
        assert result["status"] == "ready", result
        return result
    finally:
        w.close()


def test_the_cloud_handlers_limits_are_the_default():
    cloud = PacedCloud(call_delay=0.02, cloud_limits=CLOUD)
    build(UNSET, cloud)
    assert 1 < cloud.max_inflight <= 2
    # asked once per endpoint, with one of its resource sections
    assert cloud.asked == [{"type": "sim", "endpoint": "e1"}]


def test_processing_settings_override_every_clouds_defaults():
    cloud = PacedCloud(call_delay=0.02, cloud_limits=CLOUD)
    build(replace(UNSET, max_parallel=5), cloud)
    assert 2 < cloud.max_inflight <= 5


def test_the_clouds_own_configuration_overrides_processing_settings():
    cloud = PacedCloud(call_delay=0.02, cloud_limits=CLOUD, configured={"max_parallel": 3})
    build(replace(UNSET, max_parallel=6), cloud)
    assert 2 < cloud.max_inflight <= 3


def test_a_cloud_that_cannot_tell_gets_the_cautious_defaults_and_processing_settings():
    cloud = SimCloud(call_delay=0.02)          # no limits method at all
    build(replace(UNSET, batch_size=1, first_poll=0.005, poll_interval=0.02), cloud, 40)
    # the cautious default max_parallel is 32; batches of one let every call overlap
    assert 2 < cloud.max_inflight <= 32


def test_a_node_is_first_looked_at_when_its_cloud_says_it_will_run():
    slow_polls = {**CLOUD, "max_parallel": 10, "batch_size": 10, "first_poll": 5.0,
                  "poll_interval": 5.0}
    cloud = PacedCloud(cloud_limits=slow_polls, ready_hint=True, default_latency=0.3)
    started = time.monotonic()
    build(UNSET, cloud, count=3)
    created = min(when for when, _, _ in cloud.created_order)
    # one look, at the time the cloud gave (not first_poll = 5 s later), and it was ready
    assert len(cloud.state_calls) == 1
    assert 0.3 <= cloud.state_calls[0] - created < 2.0
    assert cloud.state_calls[0] - started < 5.0
