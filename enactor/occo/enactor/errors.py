"""Errors of the enactor.

    OccoError (occo.util)
    └── EnactorError
        └── LeaseHeld        another maintainer holds this infrastructure's lease
"""

from __future__ import annotations

from occo.util import OccoError

__all__ = ["EnactorError", "LeaseHeld"]


class EnactorError(OccoError):
    """A maintenance pass could not be made."""


class LeaseHeld(EnactorError):
    """Another maintainer is acting on this infrastructure."""
