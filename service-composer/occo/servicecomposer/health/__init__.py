"""Health checks: ``ping``, ``ports``, ``urls``, ``mysqldbs`` and plugins (``occo.healthcheck``)."""

from .base import (
                   HEALTH_CHECK_GROUP,
                   RESERVED_KEYS,
                   CheckResult,
                   CheckStatus,
                   HealthCheck,
                   HealthConfig,
                   HealthPlan,
                   HealthReport,
                   PlannedCheck,
                   ProbeFailed,
)
from .runner import HealthChecker

__all__ = ["HEALTH_CHECK_GROUP", "RESERVED_KEYS", "CheckResult", "CheckStatus", "HealthCheck",
           "HealthConfig", "HealthPlan", "HealthReport", "PlannedCheck", "ProbeFailed",
           "HealthChecker"]
