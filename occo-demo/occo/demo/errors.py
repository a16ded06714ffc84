"""Errors of occo-demo.

    OccoError (occo.util)
    ├── InputError
    │   └── DemoUsageError      a demo command line or example directory it cannot use (exit 2)
    └── DemoError               the demo could not finish
        └── StepFailed          one step of the demo failed; names the step (exit 1)
"""

from __future__ import annotations

from occo.util import InputError, OccoError

__all__ = ["DemoError", "DemoUsageError", "StepFailed"]


class DemoUsageError(InputError):
    """The demo cannot run as asked (an unknown example, a directory it cannot use)."""


class DemoError(OccoError):
    """The demo could not finish."""


class StepFailed(DemoError):
    """A step of the demo failed: ``step`` says which, the message says why."""

    def __init__(self, step: str, message: str, **kwargs) -> None:
        super().__init__(f"{step}: {message}", **kwargs)
        self.step = step
