"""The nodes' merged variables are bounded for the whole description: each node holds a
copy of the infrastructure's variables under its own, so many nodes with variables of
their own over large shared ones would make the compiled form quadratic in the input."""

from __future__ import annotations

from conftest import compile_errors, compile_files

from occo.util import LimitExceededError, YamlLimits


def description(shared: int, nodes: int) -> str:
    variables = "".join(f"  v{i}: {i}\n" for i in range(shared))
    listed = "".join(f"  - {{name: n{i}, type: db_node, variables: {{own: {i}}}}}\n"
                     for i in range(nodes))
    return f"infra_name: merged\nvariables:\n{variables}nodes:\n{listed}"


def test_many_nodes_merging_large_variables_is_a_located_error(tmp_path):
    limits = YamlLimits(max_expanded_nodes=10_000)
    errors = compile_errors(tmp_path, description(shared=500, nodes=30), yaml_limits=limits)
    (only,) = [e for e in errors.errors if isinstance(e, LimitExceededError)]
    assert only.location.file == str(tmp_path / "infra.yaml")
    assert (only.location.line, only.location.path) == (2, "variables")
    assert "each merged over the infrastructure's (1001 values), hold more than 10000 " \
           "values in all (node nodes[9] is the first beyond it)" in only.message


def test_within_the_budget_every_node_has_its_merged_variables(tmp_path):
    limits = YamlLimits(max_expanded_nodes=10_000)
    desc = compile_files(tmp_path, description(shared=500, nodes=9), yaml_limits=limits)
    assert desc.node("n8").variables["own"] == 8 and desc.node("n8").variables["v499"] == 499


def test_nodes_without_variables_of_their_own_count_the_shared_ones_too(tmp_path):
    text = description(shared=100, nodes=0) + "".join(
        f"  - {{name: m{i}, type: db_node}}\n" for i in range(60))
    errors = compile_errors(tmp_path, text, yaml_limits=YamlLimits(max_expanded_nodes=10_000))
    assert any("hold more than 10000 values in all (node nodes[49]" in e.message
               for e in errors.errors)
