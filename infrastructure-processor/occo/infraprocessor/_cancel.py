"""Whether someone asked, through the store, to cancel the running build.

A cancel given to the processor that runs the build arrives as a call (the run's
``cancel`` event). One given to another processor worker (over the amqp transport, any
worker may take the request) reaches the run through the store: the enactor appends a
``build.cancel_requested`` event (:data:`occo.util.CANCEL_REQUESTED`) to the
infrastructure's log. The status it also writes (``cancelling``) is for people to read;
the run never takes it as a signal.

:class:`CancelWatch` reads only what other writers appended since the run began: the
run's ledger reports the positions of the run's own events (:meth:`CancelWatch.own`),
and the watch reads the gaps between them and the log's tail, at most once per ``every``
seconds of its clock. A cancel appended before the run began is not this run's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from occo.infobroker import Store
from occo.util import CANCEL_REQUESTED

__all__ = ["CancelWatch"]


class CancelWatch:
    def __init__(self, store: Store, infra_id: str, *, after: int,
                 clock: Callable[[], float], every: float = 1.0, page: int = 1000) -> None:
        """``after``: the position of the log's newest event when the run began (0 for an
        empty log). ``clock``: the scheduler's (monotonic) clock. ``page``: the most events
        one read returns."""
        self.store = store
        self.infra_id = infra_id
        self.clock = clock
        self.every = every
        self.page = page
        self._after = after                       # every position up to it is looked at
        self._gaps: list[tuple[int, int]] = []    # (after, last): other writers' events
        self._next = 0.0
        self._seen = False

    def own(self, positions: Sequence[int]) -> None:
        """The positions of events the run itself just appended (one batch, in order)."""
        if not positions:
            return
        first, last = positions[0], positions[-1]
        if first > self._after + 1:
            self._gaps.append((self._after, first - 1))
        self._after = max(self._after, last)

    def requested(self) -> bool:
        """Whether a cancel was appended by another writer since the run began (looked
        at no more often than ``every``; between two looks, what the last look found)."""
        if self._seen:
            return True
        now = self.clock()
        if now < self._next:
            return False
        self._next = now + self.every
        try:
            self._seen = self._look()
        except Exception:  # the store is looked at again next time; the run goes on
            return False
        return self._seen

    def _look(self) -> bool:
        while self._gaps:
            after, last = self._gaps[0]
            events = self.store.read_events(self.infra_id, after=after,
                                            limit=min(self.page, last - after))
            if any(e.type == CANCEL_REQUESTED for e in events):
                return True
            reached = events[-1].position if events else last
            if reached >= last:
                self._gaps.pop(0)
            else:
                self._gaps[0] = (reached, last)
        events = self.store.read_events(self.infra_id, after=self._after, limit=self.page)
        if events:
            self._after = max(self._after, events[-1].position)
        return any(e.type == CANCEL_REQUESTED for e in events)
