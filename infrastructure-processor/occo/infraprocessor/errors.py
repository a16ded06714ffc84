"""Errors of the infrastructure processor.

    OccoError (occo.util)
    └── ProcessorError
        └── InfrastructureBusy   another execution of this infrastructure is running
"""

from __future__ import annotations

from occo.util import OccoError

__all__ = ["ProcessorError", "InfrastructureBusy"]


class ProcessorError(OccoError):
    """Something the processor could not do."""


class InfrastructureBusy(ProcessorError):
    """Another execution of this infrastructure is already running in this processor."""
