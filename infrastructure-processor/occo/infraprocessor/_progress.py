"""Where each node type of a run stands: the rule of when a dependent may start.

An instance may be created once every node type it waits for has no create of this run
still pending and at least one instance ready (no barrier between levels: only its own
dependencies count). :class:`NodeProgress` keeps those two counts per node type and says
when they changed, so the waiting instances are looked at again only then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

__all__ = ["NodeProgress"]


class NodeProgress:
    def __init__(self) -> None:
        self.pending: dict[str, int] = defaultdict(int)   # creates of this run not ready
        self.ready: dict[str, int] = defaultdict(int)     # instances ready
        self._changed = True   # the first round looks at every waiting instance

    def planned(self, node: str) -> None:
        """A create of ``node`` is part of this run."""
        self.pending[node] += 1

    def withdrawn(self, node: str) -> None:
        """A create of ``node`` will not happen (dropped, failed, not started). Only an
        instance becoming ready has the waiting ones looked at again, not this."""
        self.pending[node] -= 1

    def became_ready(self, node: str) -> None:
        self.pending[node] -= 1
        self.ready[node] += 1
        self._changed = True

    def ready_before(self, node: str) -> None:
        """An instance of ``node`` was ready before this run began."""
        self.ready[node] += 1

    def may_start(self, waits_for: Iterable[str]) -> bool:
        return all(self.pending[d] == 0 and self.ready[d] > 0 for d in waits_for)

    def without_ready(self, waits_for: Iterable[str]) -> list[str]:
        """The node types among ``waits_for`` with no ready instance."""
        return [d for d in waits_for if self.ready[d] == 0]

    def take_changed(self) -> bool:
        """Whether the counts changed since the last call (and forget it)."""
        changed, self._changed = self._changed, False
        return changed

    @property
    def changed(self) -> bool:
        return self._changed
