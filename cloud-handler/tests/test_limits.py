"""Each backend declares the pace its cloud bears; the service answers it per endpoint
with what ``clouds.<type>`` configures over it; the backend never sees those keys."""

from __future__ import annotations

import time

import pytest

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.dummy import DummyCloudHandler
from occo.cloudhandler.ec2 import EC2CloudHandler
from occo.cloudhandler.local import LocalCloudHandler
from occo.util import CloudLimits, ConfigError


def test_backends_declare_their_own_pace():
    cautious = CloudLimits()
    assert DummyCloudHandler.limits.rate == 0 and DummyCloudHandler.limits.max_parallel > 10_000
    assert LocalCloudHandler.limits.rate == 0
    # AWS: RunInstances refills 2 instances a second; OCCO keeps to it
    assert EC2CloudHandler.limits.rate == 2.0 and EC2CloudHandler.limits.burst <= 1000
    assert cautious.rate == 20.0   # what a backend without a declaration gets


def test_the_service_answers_defaults_and_configuration_per_endpoint(tmp_path):
    service = CloudHandlerService({"dummy": {
        "limits": {"rate": 50}, "endpoints": {"dummy:lab": {"limits": {"max_parallel": 4}}}}})
    lab = service.limits({"type": "dummy", "name": "lab"})
    assert lab["endpoint"] == "dummy:lab"
    assert lab["cloud"] == DummyCloudHandler.limits.to_dict()
    assert lab["configured"] == {"rate": 50, "max_parallel": 4}
    other = service.limits({"type": "dummy"})
    assert other["endpoint"] == "dummy:default" and other["configured"] == {"rate": 50}


def test_the_backend_does_not_see_the_limits_settings():
    service = CloudHandlerService({"dummy": {"limits": {"rate": 5},
                                             "endpoints": {"dummy:default": {}}}})
    handler = service.handler_for({"type": "dummy"})
    assert "limits" not in handler.config and "endpoints" not in handler.config


def test_bad_limits_settings_are_config_errors_naming_the_path():
    service = CloudHandlerService({"dummy": {"limits": {"max_paralel": 5}}})
    with pytest.raises(ConfigError, match=r"clouds.dummy.limits.*did you mean 'max_parallel'"):
        service.limits({"type": "dummy"})


def test_a_dummy_node_says_when_it_will_run(tmp_path):
    service = CloudHandlerService({"dummy": {"store": str(tmp_path / "cloud.sqlite")}})
    before = time.time()
    [result] = service.create_nodes([{
        "instance_id": "i-1", "infra_id": "inf", "node_name": "app", "node_type": "app_t",
        "resource": {"type": "dummy", "create_latency": 2.5}}])
    assert before + 2.5 <= result["ref"]["ready_at"] <= time.time() + 2.5


def test_a_batch_of_dummy_creates_is_one_write_and_keeps_capacity(tmp_path):
    service = CloudHandlerService({"dummy": {"store": str(tmp_path / "cloud.sqlite")}})
    specs = [{"instance_id": f"i-{n}", "infra_id": "inf", "node_name": "app",
              "node_type": "app_t", "resource": {"type": "dummy", "capacity": 3}}
             for n in range(5)]
    results = service.create_nodes(specs)
    assert [("ref" in r) for r in results] == [True, True, True, False, False]
    assert "capacity 3" in results[3]["error"]["message"]
    # asked again (a redelivered call): the same nodes, nothing new
    again = service.create_nodes(specs[:3])
    assert [r["ref"]["resource_id"] for r in again] == \
        [r["ref"]["resource_id"] for r in results[:3]]
