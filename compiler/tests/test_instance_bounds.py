"""Upper bounds on instances per node and per infrastructure (occo.compiler.limits)."""

from __future__ import annotations

import pytest
from conftest import PLUGINS, compile_errors, compile_files

from occo.compiler import (
    DEFAULT_INSTANCE_LIMITS,
    CompileErrors,
    InstanceLimitError,
    InstanceLimits,
    compile_infrastructure,
)

HEAD = "infra_name: bounds\nnodes:\n"


def _node(name: str, scaling: str | None = None) -> str:
    line = f"  - {{name: {name}, type: db_node"
    return line + (f", scaling: {scaling}}}\n" if scaling else "}\n")


def _only(errors) -> InstanceLimitError:
    found = [e for e in errors.errors if isinstance(e, InstanceLimitError)]
    assert len(found) == 1, [str(e) for e in errors.errors]
    return found[0]


def test_defaults_are_far_above_real_descriptions():
    assert DEFAULT_INSTANCE_LIMITS == InstanceLimits(max_per_node=10_000,
                                                     max_per_infrastructure=100_000)


@pytest.mark.parametrize("scaling, key, line", [
    ("{min: 1000000000}", "min", 3),
    ("{min: 1, max: 10001}", "max", 3),
    ("{max: 99999999999999999999999}", "max", 3),   # bigger than any machine integer
])
def test_a_node_over_the_bound_is_a_located_error(tmp_path, scaling, key, line):
    error = _only(compile_errors(tmp_path, HEAD + _node("a", "{min: 0}") + _node("b", scaling)))
    loc = error.location
    assert (loc.file, loc.line, loc.path) == (str(tmp_path / "infra.yaml"), line + 1,
                                              f"nodes[1].scaling.{key}")
    assert "exceed the limit of 10000 per node (setting instances.max_per_node)" \
        in error.message
    assert error.node == "b" and error.exit_code == 2


def test_min_and_max_both_over_give_two_errors(tmp_path):
    errors = compile_errors(tmp_path, HEAD + _node("a", "{min: 20000, max: 30000}"))
    paths = sorted(e.location.path for e in errors.errors)
    assert paths == ["nodes[0].scaling.max", "nodes[0].scaling.min"]


def test_exactly_the_bound_is_accepted(tmp_path):
    desc = compile_files(tmp_path, HEAD + _node("a", "{min: 0, max: 10000}"))
    assert desc.node("a").scaling.max == 10_000


def test_the_sum_of_maxima_over_the_infrastructure_bound(tmp_path):
    # each node within its own bound, eleven of them together beyond 100,000
    nodes = "".join(_node(f"n{i}", "{min: 0, max: 9500}") for i in range(11))
    error = _only(compile_errors(tmp_path, HEAD + nodes))
    assert error.location.path == "nodes" and error.location.line == 2
    assert error.location.file == str(tmp_path / "infra.yaml")
    assert "may scale to 104500 instances in all (n0: 9500, n1: 9500, n2: 9500, ...)" \
        in error.message
    assert "limit of 100000 per infrastructure (setting instances.max_per_infrastructure)" \
        in error.message


def test_nodes_without_scaling_count_one_each(tmp_path):
    limits = InstanceLimits(max_per_node=5, max_per_infrastructure=2)
    error = _only(compile_errors(tmp_path, HEAD + _node("a") + _node("b") + _node("c"),
                                 instance_limits=limits))
    assert "may scale to 3 instances in all" in error.message


def test_a_node_over_its_own_bound_is_not_counted_twice(tmp_path):
    limits = InstanceLimits(max_per_node=10, max_per_infrastructure=10)
    errors = compile_errors(tmp_path, HEAD + _node("a", "{max: 11}") + _node("b"),
                            instance_limits=limits)
    assert [e.location.path for e in errors.errors] == ["nodes[0].scaling.max"]


def test_configured_limits_apply(tmp_path):
    limits = InstanceLimits(max_per_node=3, max_per_infrastructure=1000)
    error = _only(compile_errors(tmp_path, HEAD + _node("a", "{min: 2, max: 4}"),
                                 instance_limits=limits))
    assert "4 instances exceed the limit of 3 per node" in error.message
    raised = InstanceLimits(max_per_node=50_000, max_per_infrastructure=500_000)
    desc = compile_files(tmp_path, HEAD + _node("a", "{min: 2, max: 40000}"),
                         instance_limits=raised)
    assert desc.node("a").scaling.max == 40_000


def test_api_mappings_are_bounded_too():
    description = {"infra_name": "api", "nodes": [
        {"name": "a", "type": "t", "scaling": {"min": 1_000_000_000}}]}
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(description, {"node_def:t": [{"resource": {"type": "dummy"}}]},
                               **PLUGINS)
    error = _only(caught.value)
    assert error.location.path == "nodes[0].scaling.min" and error.location.line is None


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "10"])
def test_limits_themselves_are_checked(bad):
    with pytest.raises(ValueError, match="max_per_node must be an integer >= 1"):
        InstanceLimits(max_per_node=bad)


def test_a_scale_count_over_the_bound():
    limits = InstanceLimits(max_per_node=100)
    limits.check_count(100, field="count", node="web")
    with pytest.raises(InstanceLimitError) as caught:
        limits.check_count(101, field="count", node="web", infra_id="i-1")
    error = caught.value
    assert error.to_dict() == {
        "error": "InstanceLimitError", "path": "count", "node": "web", "infra_id": "i-1",
        "message": "101 instances exceed the limit of 100 per node "
                   "(setting instances.max_per_node)"}
