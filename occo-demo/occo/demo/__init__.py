"""occo.demo: runnable example infrastructures on the local cloud, and the demo that
``./bootstrap.sh demo`` runs (``python -m occo.demo``); never released.

The node programs (``occo.demo.kvstore``, ``web``, ``balancer``, ``ping``) use the standard
library only, so importing this package must not import OCCO: the demo's names below are
loaded on first use (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .version import __version__

__all__ = ["__version__", "Demo", "DemoOptions", "Workspace", "example_dir", "EXAMPLES",
           "leftover_processes", "DemoError", "DemoUsageError", "StepFailed"]

_LAZY = {"Demo": "runner", "DemoOptions": "runner", "Workspace": "workspace",
         "example_dir": "workspace", "EXAMPLES": "options",
         "leftover_processes": "workspace", "DemoError": "errors",
         "DemoUsageError": "errors", "StepFailed": "errors"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
