"""Where a build stands for Ctrl-C (:class:`BuildGate`), shared by ``Occo.build`` and the
command that runs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BuildGate"]


class BuildGate:
    """Where a build stands for Ctrl-C: until its pass executes, nothing exists but its
    stored record, so the command may leave at once; storing the record and starting the
    pass each pass the gate under its lock, so a stop never lands halfway through."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stopped = False
        self.executing = False
        self.before: str | None = None   # the stored infrastructure's status before, if any

    @contextmanager
    def passing(self) -> Iterator[bool]:
        """Hold the gate for one step; yields whether to take it (not stopped)."""
        with self._lock:
            yield not self.stopped

    def execute(self) -> bool:
        """The pass is about to create and drop: whether it may (not stopped)."""
        with self._lock:
            if self.stopped:
                return False
            self.executing = True
            return True

    def stop(self) -> bool:
        """Stop at the next step; whether nothing has been executed (it may be left)."""
        with self._lock:
            self.stopped = True
            return not self.executing
