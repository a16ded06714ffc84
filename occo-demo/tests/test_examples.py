"""The shipped examples compile, and say what their READMEs say."""

from __future__ import annotations

import pytest

from occo.compiler import compile_infrastructure
from occo.demo.workspace import EXAMPLES, example_dir


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_has_description_definitions_and_readme(name):
    path = example_dir(name)
    for file in ("infra.yaml", "node_definitions.yaml", "README.rst"):
        assert (path / file).is_file(), file
    description = compile_infrastructure(path / "infra.yaml")
    assert description.warnings == ()
    for node in description.nodes:
        for impl in node.implementations:
            resource = impl.to_dict()["resource"]
            assert resource["type"] == "local"
            assert "$OCCO_PYTHON\" -m occo.demo." in resource["command"]


def test_webapp_is_data_web_and_a_balancer_over_getipall():
    description = compile_infrastructure(example_dir("webapp") / "infra.yaml")
    assert description.node_names == ("data", "web", "lb")
    web = description.node("web")
    assert (web.scaling.min, web.scaling.max) == (2, 6)
    assert set(description.dependencies_of("web")) == {"data"}
    assert set(description.dependencies_of("lb")) == {"web", "data"}
    lb = description.node("lb").implementations[0].to_dict()
    assert lb["resource"]["env"]["BACKENDS"] == "{{ getipall('web') | join(',') }}"
    web_impl = web.implementations[0].to_dict()
    assert "getip('data')" in web_impl["resource"]["env"]["KV_URL"]
    assert web_impl["health_check"]["urls"] == [
        "http://{{ ip }}:{{ variables.web_port }}/health"]


def test_ping_sender_depends_on_the_receiver():
    description = compile_infrastructure(example_dir("ping") / "infra.yaml")
    assert description.topological_order == ("ping-receiver", "ping-sender")
    assert set(description.dependencies_of("ping-sender")) == {"ping-receiver"}
