"""Errors of the enactor.

    OccoError (occo.util)
    └── EnactorError

    StoreError (occo.infobroker)
    └── LeaseHeld        another maintainer holds this infrastructure's lease
"""

from __future__ import annotations

from occo.infobroker import LeaseHeld as _LeaseHeld
from occo.util import OccoError

__all__ = ["EnactorError", "LeaseHeld"]


class EnactorError(OccoError):
    """A maintenance pass could not be made."""


# Another maintainer is acting on this infrastructure (the store's lease error, re-exported).
LeaseHeld = _LeaseHeld
