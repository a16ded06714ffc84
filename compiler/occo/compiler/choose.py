"""Choosing among a node's implementations: the filter, and the choice per instance.

The compiler keeps, for each node, the implementations of its type whose ``resource``
section contains the node's ``filter`` as a sub-mapping (:func:`matches_filter`). Which
of those an instance gets is decided at build time, once per instance, by an
:class:`ImplementationChooser`: at random by default (as Occopus did, spreading instances
over clouds), or deterministically for tests and reproducible plans.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from typing import Any

from .model import Implementation, Node

__all__ = ["ChoiceStrategy", "ImplementationChooser", "matches_filter"]


def matches_filter(resource: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    """Whether ``flt`` is a sub-mapping of ``resource``: every key of the filter is in
    the resource with an equal value, nested mappings compared the same way."""
    for key, wanted in flt.items():
        if key not in resource:
            return False
        have = resource[key]
        if isinstance(wanted, Mapping) and isinstance(have, Mapping):
            if not matches_filter(have, wanted):
                return False
        elif have != wanted:
            return False
    return True


class ChoiceStrategy(enum.StrEnum):
    """How an instance's implementation is picked among its node's implementations."""

    RANDOM = "random"   # uniformly at random (the default)
    FIRST = "first"     # always the first one (in definition order)
    SEEDED = "seeded"   # pseudo-random, but a function of (seed, node, instance key)


class ImplementationChooser:
    """Picks the implementation for one instance: ``choose(node, rng_or_seed)``.

    ``rng_or_seed`` may be a :class:`random.Random` (used as is), or an ``int`` or
    ``str`` (for example the instance id or ordinal). With ``RANDOM`` a seed gives a
    repeatable choice; with ``SEEDED`` the choice is always a function of the chooser's
    ``seed``, the node's name and ``rng_or_seed``, so a plan made twice is the same.
    ``FIRST`` ignores it.
    """

    __slots__ = ("strategy", "seed", "_rng")

    def __init__(self, strategy: ChoiceStrategy | str = ChoiceStrategy.RANDOM,
                 seed: int | str | None = None) -> None:
        try:
            self.strategy = ChoiceStrategy(strategy)
        except ValueError:
            known = ", ".join(s.value for s in ChoiceStrategy)
            raise ValueError(f"unknown implementation choice strategy {strategy!r}; "
                             f"known: {known}") from None
        if self.strategy is ChoiceStrategy.SEEDED and seed is None:
            raise ValueError("the 'seeded' strategy needs a seed")
        self.seed = seed
        self._rng = random.Random(seed) if seed is not None else random.Random()

    def choose(self, node: Node, rng_or_seed: random.Random | int | str | None = None
               ) -> tuple[int, Implementation]:
        """``(index, implementation)``: ``index`` is the position in
        ``node.implementations`` (which the filter has already narrowed)."""
        impls = node.implementations
        if not impls:
            raise ValueError(f"node {node.name!r} has no implementation to choose from")
        if len(impls) == 1 or self.strategy is ChoiceStrategy.FIRST:
            return 0, impls[0]
        if isinstance(rng_or_seed, random.Random):
            rng = rng_or_seed
        elif self.strategy is ChoiceStrategy.SEEDED:
            rng = random.Random(f"{self.seed}\x00{node.name}\x00{rng_or_seed}")
        elif rng_or_seed is not None:
            rng = random.Random(f"{node.name}\x00{rng_or_seed}")
        else:
            rng = self._rng
        index = rng.randrange(len(impls))
        return index, impls[index]
