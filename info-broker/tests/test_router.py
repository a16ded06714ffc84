"""InfoRouter: keys routed to the providers that declare them; clear errors otherwise."""

from __future__ import annotations

import pytest

from occo.infobroker import InfoArgumentError, InfoKeyError, InfoProvider, InfoRouter, provides


class Clouds(InfoProvider):
    def __init__(self, name: str = "clouds") -> None:
        self.name = name

    @provides("node.resource.state")
    def resource_state(self, instance_id: str) -> str:
        """The state the cloud reports."""
        return f"{self.name}:{instance_id}"

    @provides("node.resource.address", "node.resource.ip_address")
    def resource_address(self, instance_id: str, private: bool = False) -> str:
        return "192.168.0.1" if private else "10.0.0.1"


class MoreClouds(Clouds):
    @provides("cloud.list")
    def clouds(self) -> list[str]:
        return ["a", "b"]


def test_get_routes_to_the_declaring_provider():
    router = InfoRouter([Clouds()])
    assert router.get("node.resource.state", instance_id="i-1") == "clouds:i-1"
    assert router.get("node.resource.ip_address", instance_id="x", private=True) == "192.168.0.1"
    assert router.keys() == ["node.resource.address", "node.resource.ip_address",
                             "node.resource.state"]
    assert "node.resource.state" in router and "nothing" not in router


def test_inherited_keys_are_provided():
    router = InfoRouter([MoreClouds()])
    assert router.get("cloud.list") == ["a", "b"]
    assert router.get("node.resource.state", instance_id="i") == "clouds:i"


def test_first_registered_answers_unless_put_first():
    router = InfoRouter([Clouds("one")])
    router.register(Clouds("two"))
    assert router.get("node.resource.state", instance_id="i") == "one:i"
    third = Clouds("three")
    router.register(third, first=True)
    assert router.get("node.resource.state", instance_id="i") == "three:i"
    router.unregister(third)
    assert router.get("node.resource.state", instance_id="i") == "one:i"


def test_unknown_key_lists_the_known_ones_and_suggests():
    router = InfoRouter([Clouds()])
    with pytest.raises(InfoKeyError) as err:
        router.get("node.resource.stat", instance_id="i")
    assert str(err.value) == ("unknown info key 'node.resource.stat' (did you mean "
                              "'node.resource.state'?); known keys: node.resource.address, "
                              "node.resource.ip_address, node.resource.state")
    assert err.value.known == router.keys() and err.value.exit_code == 2


def test_unknown_key_with_nothing_registered():
    with pytest.raises(InfoKeyError, match="unknown info key 'x'; known keys: none registered"):
        InfoRouter().get("x")


def test_wrong_arguments_name_the_parameters():
    router = InfoRouter([Clouds()])
    with pytest.raises(InfoArgumentError) as err:
        router.get("node.resource.address", node="i")
    assert str(err.value).startswith("info key 'node.resource.address' takes (instance_id, "
                                     "private=False); ")
    with pytest.raises(InfoArgumentError, match="missing a required argument: 'instance_id'"):
        router.get("node.resource.state")


def test_a_provider_without_keys_is_refused():
    with pytest.raises(ValueError, match="declares no keys"):
        InfoRouter([InfoProvider()])
    with pytest.raises(ValueError):
        provides()


def test_describe_lists_parameters_and_docs():
    described = InfoRouter([Clouds()]).describe()
    assert described["node.resource.state"] == {"parameters": ["instance_id"],
                                                "doc": "The state the cloud reports."}
    assert described["node.resource.address"]["parameters"] == ["instance_id", "private"]
