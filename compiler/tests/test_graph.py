"""Levels, cycles and reachability over the dependency graph."""

from __future__ import annotations

import pytest

from occo.compiler._graph import CycleError, ancestor_sets, find_cycles, topological_levels


def test_levels_keep_document_order_within_a_level():
    names = ["c", "a", "b", "d"]
    deps = {"d": ["a", "c"], "b": ["c"]}
    assert topological_levels(names, deps) == [("c", "a"), ("b", "d")]


def test_levels_raise_on_a_cycle():
    with pytest.raises(CycleError):
        topological_levels(["a", "b"], {"a": ["b"], "b": ["a"]})


def test_find_cycles_lists_each_disjoint_cycle_dependent_first():
    names = ["web", "cache", "x", "y", "z", "ok"]
    deps = {"web": ["cache"], "cache": ["web"], "x": ["y"], "y": ["z"], "z": ["x"],
            "ok": ["web"]}
    assert find_cycles(names, deps) == [("web", "cache", "web"), ("x", "y", "z", "x")]
    assert find_cycles(names, {"ok": ["web"]}) == []


def test_ancestor_sets_hold_indirect_dependencies():
    names = ["a", "b", "c", "d"]
    deps = {"b": ["a"], "c": ["b"], "d": []}
    index = {n: i for i, n in enumerate(names)}
    order = [n for level in topological_levels(names, deps) for n in level]
    sets = ancestor_sets(order, deps, index)
    assert sets["c"] == (1 << 0) | (1 << 1)
    assert sets["a"] == sets["d"] == 0
