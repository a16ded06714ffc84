"""What every part of a run shares: the run, and the state its parts all work on.

A run (``Run``, occo.infraprocessor._run) is its loop; the work of each round is done by
its parts (``_intake``, ``_creating``, ``_observing``, ``_failing``, ``_dropping``). A
part reaches the run's shared state through these names and the other parts through
``run``; all of them run on the run's one scheduler thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._run import Run

__all__ = ["RunPart"]


class RunPart:
    def __init__(self, run: Run) -> None:
        self.run = run
        self.config = run.config        # the processing configuration
        self.table = run.table          # every slot of the run, by phase
        self.ledger = run.ledger        # the round's writes to the store
        self.pace = run.pace            # the endpoints' limits, rates and calls in flight
        self.progress = run.progress    # pending and ready per node type
        self.counts = run.counts        # created, ready, dropped, replaced
        self.now = run.now              # the scheduler's clock
