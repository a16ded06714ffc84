"""Long commands run in a worker thread so that Ctrl-C and SIGTERM reach the main thread
at once: the first asks the work to start nothing new and roll back what is in flight, the
second leaves at once (:class:`LeaveAtOnce`). Used by ``occo`` and the Occopus commands."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["LeaveAtOnce", "run_interruptible"]


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a long command the way Ctrl-C does (start nothing new, roll back)."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests calling run() from a thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class LeaveAtOnce(KeyboardInterrupt):
    """The second Ctrl-C: the command leaves without waiting for the work in flight (the
    Occo it used is not closed: closing waits for the calls under way)."""

    abandons_work = True


def run_interruptible(work: Callable[[], Any], on_interrupt: Callable[[], bool | None],
                   err: TextIO) -> tuple[Any, bool]:
    """Run ``work`` in a thread; Ctrl-C / SIGTERM calls ``on_interrupt`` and waits for the
    work to wind down. Returns (result, interrupted); re-raises the work's exception.

    ``on_interrupt()`` returning True (the work has created nothing: it is still reading
    or deciding) lets the command leave at once, the work left behind: the result is
    then None."""
    box: dict[str, Any] = {}
    done = threading.Event()  # not Thread.join: an interrupted join can mark a live thread
                              # as stopped (CPython gh-90882)

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="occo-command", daemon=True)
    interrupted = False
    with _sigterm_as_interrupt():
        thread.start()
        while not done.is_set():
            try:
                done.wait(0.2)
            except KeyboardInterrupt:
                if not interrupted:
                    interrupted = True
                    if on_interrupt() is True:
                        err.write("\ninterrupted\n")
                        return None, True
                    err.write("\ninterrupted: starting nothing new, rolling back what is in "
                              "flight (interrupt again to leave at once)\n")
                    err.flush()
                else:
                    raise LeaveAtOnce() from None
    if "error" in box:
        raise box["error"]
    return box.get("result"), interrupted
