"""Whether someone asked, through the store, to cancel the running build.

A cancel given to the processor that runs the build arrives as a call (the run's
``cancel`` event). One given to another processor worker (over the amqp transport, any
worker may take the request) reaches the run through the store: the infrastructure's
status is ``cancelling``. :class:`CancelWatch` reads it at most once per ``every``
seconds of its clock.
"""

from __future__ import annotations

from collections.abc import Callable

from occo.infobroker import Store
from occo.util import InfraStatus

__all__ = ["CancelWatch"]


class CancelWatch:
    def __init__(self, store: Store, infra_id: str, *, started_at: float,
                 clock: Callable[[], float], every: float = 1.0,
                 skew: float = 5.0) -> None:
        """``started_at``: when the run began (store time, seconds since the epoch); a
        ``cancelling`` written more than ``skew`` seconds before it is a stale one, left
        by a command that ended. ``clock``: the scheduler's (monotonic) clock."""
        self.store = store
        self.infra_id = infra_id
        self.started_at = started_at
        self.clock = clock
        self.every = every
        self.skew = skew
        self._next = 0.0

    def requested(self) -> bool:
        """Whether a cancel is written in the store (looked at no more often than
        ``every``; between two looks, False)."""
        now = self.clock()
        if now < self._next:
            return False
        self._next = now + self.every
        try:
            record = self.store.get_infrastructure(self.infra_id)
        except Exception:  # the store is looked at again next time; the run goes on
            return False
        return (record.status is InfraStatus.CANCELLING
                and record.updated_at >= self.started_at - self.skew)
