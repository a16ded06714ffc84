"""Where an infrastructure stands: the one set of statuses every package writes and reads.

The status is what ``occo status``, the REST API and the dashboard show, and what the
store keeps; the store refuses a status not listed here. It is a :class:`~enum.StrEnum`,
so a status is also its text (``InfraStatus.READY == "ready"``) in JSON and in the store.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CANCEL_REQUESTED", "InfraStatus"]

#: the event type of a cancel request: appended to the infrastructure's event log by the
#: enactor; the running build, wherever it runs, reads it from there (the ``cancelling``
#: status written beside it is for people to read, never a signal)
CANCEL_REQUESTED = "build.cancel_requested"


class InfraStatus(StrEnum):
    #: a build (or a rollout of a changed description) is running
    BUILDING = "building"
    #: every node is up to its wanted count and ready
    READY = "ready"
    #: built, but some instances could not be dropped (they are retried)
    DEGRADED = "degraded"
    #: a build failed (and was rolled back unless kept)
    FAILED = "failed"
    #: a cancel was asked for; the build is rolling back
    CANCELLING = "cancelling"
    #: a build was cancelled and rolled back
    CANCELLED = "cancelled"
    #: ``destroy`` is dropping every instance
    DESTROYING = "destroying"
    #: every instance was dropped
    DESTROYED = "destroyed"
    #: ``destroy`` ended with instances it could not drop
    DESTROY_FAILED = "destroy_failed"
    #: shown (never stored) for an infrastructure whose record cannot be read
    DAMAGED = "damaged"

    @property
    def build_running(self) -> bool:
        """Whether a build of the infrastructure is under way (or winding down)."""
        return self in (InfraStatus.BUILDING, InfraStatus.CANCELLING)
