"""occo.enactor: maintenance passes. Compares the desired state (the compiled description
plus scaling targets and requests) with the actual state, and emits instructions."""

from .changes import outdated, render_change
from .config import MaintenanceConfig
from .decide import Decision, apply_requests, decide
from .errors import EnactorError, LeaseHeld
from .probe import Observation, Probe
from .service import Enactor, lease_name
from .version import __version__

__all__ = ["__version__", "MaintenanceConfig", "Decision", "apply_requests", "decide",
           "EnactorError", "LeaseHeld", "Observation", "Probe", "Enactor", "lease_name",
           "outdated", "render_change",
]
