"""A build of a changed description as a rolling replacement, and the definition a
rollback returns to (docs/user/updates.rst).

``Occo.build`` runs passes of the enactor with ``rollout=True`` until no instance is
outdated: each pass drops the outdated instances whose replacements are ready and creates
the next ones, within each node's ``update`` limits (:func:`occo.enactor.decide`). Every
pass decides from the store alone, so a rollout killed at any moment is carried on by the
next build. The definition a build replaced is kept in the stored description (under
:data:`PREVIOUS`), sealed like the rest of it, for ``occo build --rollback``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from occo.infobroker import Event, Store

__all__ = ["PREVIOUS", "COUNTED", "with_previous", "previous_of", "without_previous",
           "Rollout"]

#: the key of the stored description that holds the definition it replaced
PREVIOUS = "previous"
#: the outcome counts that add up over a rollout's passes
COUNTED = ("created", "ready", "dropped", "replaced", "healed")
#: passes in a row that change nothing while instances are still outdated: stuck
STUCK_PASSES = 10
#: seconds between two passes that changed nothing (an instance not ready yet holds it)
IDLE_WAIT = 1.0


def without_previous(description: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in description.items() if k != PREVIOUS}


def with_previous(new: Mapping[str, Any], stored: Mapping[str, Any] | None
                  ) -> dict[str, Any]:
    """``new`` to store over ``stored``: a different definition keeps ``stored`` as its
    previous one; the same one keeps the previous it had (a rebuild forgets nothing)."""
    out = without_previous(new)
    if stored is None:
        return out
    before = without_previous(stored)
    if before != out:
        out[PREVIOUS] = before
    elif isinstance(stored.get(PREVIOUS), Mapping):
        out[PREVIOUS] = dict(stored[PREVIOUS])
    return out


def previous_of(description: Mapping[str, Any]) -> dict[str, Any] | None:
    previous = description.get(PREVIOUS)
    return dict(previous) if isinstance(previous, Mapping) else None


class Rollout:
    """The passes of one build: the first, then as many as the replacement needs."""

    def __init__(self, store: Store, infra_id: str,
                 run_pass: Callable[[], dict[str, Any]]) -> None:
        self.store = store
        self.infra_id = infra_id
        self.run_pass = run_pass
        self.started = time.monotonic()

    def event(self, type_: str, **details: Any) -> None:
        self.store.append_event(Event(type=type_, infra_id=self.infra_id, details=details))

    def run(self, first: dict[str, Any]) -> dict[str, Any]:
        """``first``'s outcome, then passes until nothing is outdated (or one fails, is
        cancelled, or several in a row change nothing); the counts add up."""
        total = dict(first)
        outcome = first
        outdated = int(first.get("outdated") or 0)
        if not outdated:
            return total
        self.event("rollout.started", outdated=outdated,
                   message=f"replacing {outdated} outdated instance(s)")
        idle = 0
        passes = 1
        while outdated and _went_on(outcome):
            outcome = self.run_pass()
            passes += 1
            for key in COUNTED:
                total[key] = int(total.get(key) or 0) + int(outcome.get(key) or 0)
            total["failures"] = list(total.get("failures") or []) + list(
                outcome.get("failures") or [])
            total["drop_failures"] = list(total.get("drop_failures") or []) + list(
                outcome.get("drop_failures") or [])
            total["status"] = outcome["status"]
            if "executed" in outcome:
                total["executed"] = outcome["executed"]
            outdated = int(outcome.get("outdated") or 0)
            settling = float(outcome.get("settling") or 0)
            # waiting for new instances to settle (update.min_ready_seconds) is not stuck
            idle = idle + 1 if outcome["status"] == "unchanged" and not settling else 0
            if idle >= STUCK_PASSES and outdated:
                total["status"] = "failed"
                total["rollout_stuck"] = True
                break
            if settling and outdated:   # at most IDLE_WAIT: a Ctrl-C waits for no more
                time.sleep(min(settling, IDLE_WAIT))
            elif idle and outdated:
                time.sleep(IDLE_WAIT)
        seconds = round(time.monotonic() - self.started, 3)
        total["outdated"] = outdated
        total["rollout"] = {"passes": passes, "seconds": seconds,
                            "finished": not outdated}
        if outdated:
            why = ("no pass could go on (`occo plan` shows what holds it)"
                   if total.get("rollout_stuck") else "the build was stopped"
                   if total["status"] == "cancelled" else f"the build ended {total['status']}")
            self.event("rollout.failed", outdated=outdated, passes=passes, seconds=seconds,
                       message=f"the rollout stopped with {outdated} instance(s) of the old "
                               f"definition still serving: {why}; `occo build --rollback` "
                               "returns to the previous definition")
        else:
            self.event("rollout.finished", passes=passes, seconds=seconds,
                       message=f"every outdated instance was replaced ({passes} passes, "
                               f"{seconds:g} s)")
        return total


def _went_on(outcome: Mapping[str, Any]) -> bool:
    """Whether a pass ended in a state the next pass may build on."""
    return outcome.get("status") in ("ready", "unchanged") and outcome.get("executed") \
        is not False
