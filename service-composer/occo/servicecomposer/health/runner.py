"""Running health rounds: plan the probes of many nodes, run them concurrently.

The checks are found in the entry point group ``occo.healthcheck`` (or given). A round
runs every probe of every node on one asyncio event loop, at most
``HealthConfig.max_concurrency`` at a time, each under its own timeout; checks whose
client library blocks run in a bounded thread pool. A probe that fails, times out or
raises becomes a failed result with its reason: one bad node never spoils the round.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from occo.util import PluginNotFoundError, describe_value, load_plugin, plugin_names, scrub

from ..errors import HealthCheckError, HealthCheckUnavailableError
from ..templates import Where
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

__all__ = ["HealthChecker"]

log = logging.getLogger(__name__)


class HealthChecker:
    """Plans and runs health checks; thread-safe. Close it (or use ``with``) when done.

    ``checks`` adds (or replaces) checks by key on top of the ``occo.healthcheck`` entry
    points.
    """

    def __init__(self, config: HealthConfig | None = None, *,
                 checks: Mapping[str, HealthCheck] | None = None) -> None:
        self.config = config or HealthConfig()
        self._given = dict(checks or {})
        self._loaded: dict[str, HealthCheck] = dict(self._given)
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=self.config.blocking_workers,
                                            thread_name_prefix="occo-health")
        for check in self._loaded.values():
            check.bind_executor(self._executor)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> HealthChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def known(self) -> list[str]:
        """The health_check keys that name a check: the given ones and the entry points."""
        return sorted(set(self._given) | set(plugin_names(HEALTH_CHECK_GROUP)))

    def check(self, key: str) -> HealthCheck:
        """The check registered for ``key``; :class:`PluginNotFoundError` if none."""
        with self._lock:
            found = self._loaded.get(key)
        if found is not None:
            return found
        cls = load_plugin(HEALTH_CHECK_GROUP, key)
        found = cls(self.config) if isinstance(cls, type) else cls
        if not isinstance(found, HealthCheck):
            raise HealthCheckError(f"the {HEALTH_CHECK_GROUP} plugin {key!r} is not a "
                                   f"HealthCheck ({type(found).__name__})")
        found.bind_executor(self._executor)
        with self._lock:
            return self._loaded.setdefault(key, found)

    # -- planning ----------------------------------------------------------------------

    def plan(self, section: Mapping[str, Any] | None, *, instance_id: str, address: str,
             where: Where | None = None) -> HealthPlan:
        """The probes a rendered ``health_check`` section asks for at ``address``.

        ``ping`` defaults to true, as in Occopus. Raises :class:`HealthCheckError` for a
        wrong value and :class:`HealthCheckUnavailableError` for a check this host cannot
        run.
        """
        if where is None:
            where = Where(instance_id, "", None, "health_check")
        if section is not None and not isinstance(section, Mapping):
            raise HealthCheckError(f"node {where.node!r}: health_check must be a mapping, got "
                                   f"{describe_value(section)}", location=where.location(),
                                   node=where.node, infra_id=where.infra_id)
        values = dict(section or {})
        values.setdefault("ping", True)
        planned: list[PlannedCheck] = []
        for key, value in values.items():
            if key in RESERVED_KEYS:
                continue
            at = where.at(section, key) if section is not None and key in section else where
            try:
                check = self.check(str(key))
            except PluginNotFoundError:
                settings = ", ".join(sorted(RESERVED_KEYS))
                raise HealthCheckError(
                    f"node {where.node!r}: unknown health check {key!r}; known: "
                    f"{', '.join(self.known())} (and the settings {settings})",
                    location=at.location(), node=where.node, infra_id=where.infra_id) from None
            try:
                targets = check.targets(value, address=address)
            except ValueError as exc:
                raise HealthCheckError(f"node {where.node!r}: health_check {key}: {exc}",
                                       location=at.location(), node=where.node,
                                       infra_id=where.infra_id) from None
            if targets:
                try:
                    check.ensure_available()
                except HealthCheckUnavailableError as exc:
                    raise HealthCheckUnavailableError(f"node {where.node!r}: {exc.message}",
                                                      location=at.location(), node=where.node,
                                                      infra_id=where.infra_id) from None
            timeout = self.config.timeout_for(str(key))
            planned += [PlannedCheck(kind=str(key), target=t, timeout=timeout) for t in targets]
        return HealthPlan(instance_id=instance_id, address=address, node=where.node,
                          checks=tuple(planned))

    # -- running -----------------------------------------------------------------------

    def run(self, plans: Iterable[HealthPlan | Mapping[str, Any]]) -> list[HealthReport]:
        """One round over ``plans`` (in their order); blocks until every probe is done."""
        items = [p if isinstance(p, HealthPlan) else HealthPlan.from_dict(p) for p in plans]
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun(items))
        # called from inside a running loop: run the round on a loop of its own
        with ThreadPoolExecutor(max_workers=1) as one:
            return one.submit(asyncio.run, self.arun(items)).result()

    async def arun(self, plans: Iterable[HealthPlan]) -> list[HealthReport]:
        """:meth:`run` for callers that have an event loop."""
        plans = list(plans)
        started = time.perf_counter()
        kinds = sorted({c.kind for p in plans for c in p.checks})
        checks = {kind: self.check(kind) for kind in kinds}
        states: dict[str, Any] = {}
        semaphore = asyncio.Semaphore(self.config.max_concurrency)
        try:
            for kind in kinds:
                states[kind] = await checks[kind].open_round()
            results = await asyncio.gather(*(
                self._probe(checks[c.kind], states[c.kind], plan, c, semaphore)
                for plan in plans for c in plan.checks))
        finally:
            for kind, state in states.items():
                try:
                    await checks[kind].close_round(state)
                except Exception:  # closing must not hide the round's results
                    log.warning("closing the %s check's round failed", kind, exc_info=True)
        reports, position = [], 0
        for plan in plans:
            count = len(plan.checks)
            reports.append(HealthReport(instance_id=plan.instance_id, address=plan.address,
                                        checks=tuple(results[position:position + count])))
            position += count
        log.debug("health round: %d nodes, %d probes, %d unhealthy, %.3f s", len(plans),
                  len(results), sum(not r.healthy for r in reports),
                  time.perf_counter() - started)
        return reports

    @staticmethod
    async def _probe(check: HealthCheck, state: Any, plan: HealthPlan, planned: PlannedCheck,
                     semaphore: asyncio.Semaphore) -> CheckResult:
        async with semaphore:
            start = time.perf_counter()
            status, detail = CheckStatus.FAILED, ""
            try:
                detail = await asyncio.wait_for(
                    check.probe(plan.address, planned.target, planned.timeout, state),
                    planned.timeout)
                status = CheckStatus.OK
            except TimeoutError:
                detail = f"no answer within {planned.timeout:g} s"
            except ProbeFailed as exc:
                detail = str(exc)
            except HealthCheckUnavailableError as exc:
                status, detail = CheckStatus.UNAVAILABLE, exc.message
            except Exception as exc:  # a plugin's own failure: a failed check, with why
                detail = f"{type(exc).__name__}: {exc}"
            seconds = round(time.perf_counter() - start, 6)
        try:
            target = check.describe(planned.target)
        except Exception:
            target = planned.kind
        return CheckResult(kind=planned.kind, target=scrub(target), status=status,
                           detail=scrub(str(detail)), seconds=seconds)
