"""The filter and the per-instance choice among a node's implementations."""

from __future__ import annotations

import random

import pytest

from occo.compiler import (
    ChoiceStrategy,
    Implementation,
    ImplementationChooser,
    Node,
    Scaling,
    freeze,
    matches_filter,
)


def node(count: int, name: str = "web") -> Node:
    return Node(name=name, type="t", scaling=Scaling(),
                implementations=tuple(Implementation(resource=freeze({"type": "dummy",
                                                                      "zone": f"z{i}"}))
                                      for i in range(count)))


def test_filter_is_a_sub_mapping_match():
    resource = {"type": "ec2", "regionname": "eu", "tags": {"team": "web", "tier": "1"}}
    assert matches_filter(resource, {})
    assert matches_filter(resource, {"type": "ec2"})
    assert matches_filter(resource, {"type": "ec2", "tags": {"team": "web"}})
    assert not matches_filter(resource, {"type": "nova"})
    assert not matches_filter(resource, {"name": "x"})
    assert not matches_filter(resource, {"tags": {"team": "db"}})
    assert not matches_filter(resource, {"tags": "web"})


def test_first_strategy_always_takes_the_first():
    chooser = ImplementationChooser("first")
    n = node(3)
    assert {chooser.choose(n, key)[0] for key in range(20)} == {0}
    assert chooser.choose(n)[1] is n.implementations[0]


def test_random_strategy_uses_every_implementation_and_a_given_rng():
    chooser = ImplementationChooser()
    assert chooser.strategy is ChoiceStrategy.RANDOM
    n = node(3)
    rng = random.Random(7)
    picks = [chooser.choose(n, rng)[0] for _ in range(300)]
    assert set(picks) == {0, 1, 2}
    assert picks == [ImplementationChooser().choose(n, r)[0]
                     for r in [random.Random(7)] for _ in range(300)]


def test_random_strategy_with_a_seed_is_repeatable():
    n = node(5)
    first = [ImplementationChooser().choose(n, f"instance-{i}")[0] for i in range(50)]
    again = [ImplementationChooser().choose(n, f"instance-{i}")[0] for i in range(50)]
    assert first == again and len(set(first)) > 1


def test_seeded_strategy_depends_on_seed_node_and_key_only():
    n = node(4)
    a = ImplementationChooser(ChoiceStrategy.SEEDED, seed=42)
    b = ImplementationChooser("seeded", seed=42)
    keys = [f"id-{i}" for i in range(40)]
    picks = [a.choose(n, k)[0] for k in keys]
    assert picks == [b.choose(n, k)[0] for k in keys]
    assert len(set(picks)) > 1
    other_seed = [ImplementationChooser("seeded", seed=43).choose(n, k)[0] for k in keys]
    assert other_seed != picks
    other_node = [a.choose(node(4, "api"), k)[0] for k in keys]
    assert other_node != picks
    index, chosen = a.choose(n, "id-0")
    assert chosen is n.implementations[index]


def test_chooser_refuses_bad_settings_and_empty_nodes():
    with pytest.raises(ValueError, match="known: random, first, seeded"):
        ImplementationChooser("roundrobin")
    with pytest.raises(ValueError, match="needs a seed"):
        ImplementationChooser("seeded")
    with pytest.raises(ValueError, match="no implementation"):
        ImplementationChooser().choose(node(0))


def test_single_implementation_needs_no_choice():
    n = node(1)
    assert ImplementationChooser("seeded", seed=1).choose(n, "x") == (0, n.implementations[0])
