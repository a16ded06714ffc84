"""The background work of the REST service: the builds and destroys requests start, and the
maintenance of attached infrastructures.

One job at a time per infrastructure in this service; a request for an infrastructure that
is busy gets :class:`~occo.api.errors.Busy` (409). The maintenance loop runs under a lease
holder of its own (``<holder>/maintainer``), distinct from the one the requests' builds and
destroys use, so the store's leases keep the two apart exactly as they keep two processes
apart. A request that finds only this service's own maintainer in a pass of the
infrastructure is accepted and waits for the pass to end, instead of failing.

Maintenance lives in the store: an infrastructure is maintained while its ``maintained``
flag is set (``attach``/``detach``), so a restarted service picks up where it left off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from occo.enactor import Enactor, LeaseHeld, lease_name
from occo.infobroker import NotFound
from occo.util import InfraStatus

from .core import Occo
from .errors import Busy
from .rest_state import description_of

__all__ = ["Work"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: how long a job waits for this service's own maintenance pass of its infrastructure
LEASE_WAIT = 3600.0


class _RecordingEnactor(Enactor):
    """An enactor that records each pass's outcome in the infrastructure's status, as
    :meth:`Occo.maintain_once` does."""

    def maintain_once(self, infra_id: str, **kwargs: Any) -> dict:
        outcome = super().maintain_once(infra_id, **kwargs)
        if outcome["status"] != "unchanged":
            try:
                self.store.update_infrastructure(infra_id, expected_version=None,
                                                 status=InfraStatus(outcome["status"]))
            except NotFound:  # destroyed meanwhile
                pass
        return outcome


class Work:
    """Builds, destroys and the maintenance loop of one REST service."""

    def __init__(self, occo: Occo, stop: threading.Event) -> None:
        self.occo = occo
        self.store = occo.store
        self.stop = stop
        system = occo.system
        self.holder = system.enactor.holder
        self.maintainer = _RecordingEnactor(
            self.store, processor=system.processor_client, cloud=system.cloud,
            composer=system.composer, config=system.enactor.config,
            holder=f"{system.enactor.holder}/maintainer",
            call_timeout=system.enactor.call_timeout)
        self._lock = threading.Lock()
        self._register = threading.Lock()
        self._jobs: dict[str, str] = {}
        self._threads: set[threading.Thread] = set()

    # ------------------------------------------------------------------ state

    def busy(self, infra_id: str) -> str | None:
        """What this service is doing to ``infra_id`` (``building``, ``destroying``)."""
        with self._lock:
            return self._jobs.get(infra_id)

    def running(self) -> dict[str, str]:
        with self._lock:
            return dict(self._jobs)

    def _check_free(self, infra_id: str) -> None:
        kind = self._jobs.get(infra_id)
        if kind:
            raise Busy(f"infrastructure {infra_id} is {kind} (started through this service); "
                       "retry when that is done", infra_id=infra_id)
        holder = self.store.lease_holder(lease_name(infra_id))
        if holder is not None and holder[0] != self.maintainer.holder:
            raise Busy(f"infrastructure {infra_id} is being built, destroyed or maintained by "
                       f"{holder[0]}; retry when that is done", infra_id=infra_id)

    def _claim(self, infra_id: str, kind: str) -> None:
        with self._lock:
            self._check_free(infra_id)
            self._jobs[infra_id] = kind

    def _release(self, infra_id: str) -> None:
        with self._lock:
            self._jobs.pop(infra_id, None)

    # ------------------------------------------------------------------ jobs

    def _waiting_for_maintainer(self, infra_id: Callable[[], str], work: Callable[[], T]) -> T:
        """Run ``work``; while this service's maintainer holds the lease of the
        infrastructure ``infra_id()`` names, wait and retry."""
        deadline = time.monotonic() + LEASE_WAIT
        while True:
            try:
                return work()
            except LeaseHeld:
                holder = self.store.lease_holder(lease_name(infra_id()))
                mine = holder is None or holder[0] == self.maintainer.holder
                if not mine or time.monotonic() > deadline or self.stop.is_set():
                    raise
                self.stop.wait(0.05)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _done(self) -> None:
        with self._lock:
            self._threads.discard(threading.current_thread())

    def start_build(self, data: Mapping[str, Any], *, infra_id: str | None = None,
                    keep_on_failure: bool = False, maintain: bool = True) -> dict[str, Any]:
        """Validate ``data``, register it and build it in the background.

        Returns once the infrastructure is registered (its id known); bad input and a busy
        infrastructure raise here, before anything is created.
        """
        description = self.occo.validate(data)
        if infra_id:
            description_of(self.occo, infra_id)
        with self._register:  # two requests for one name must not both create it
            target = infra_id or self._by_name(description.infra_name)
            if target:
                self._claim(target, "building")
            box: dict[str, Any] = {}
            registered = threading.Event()

            def on_registered(record: Any) -> None:
                if not target:
                    with self._lock:
                        self._jobs[record.infra_id] = "building"
                self.occo.attach(record.infra_id, maintained=maintain)
                box["record"] = record
                registered.set()

            def build() -> None:
                try:
                    def current() -> str | None:
                        return box["record"].infra_id if "record" in box else target

                    result = self._waiting_for_maintainer(
                        lambda: current() or "", lambda: self.occo.build(
                            data, infra_id=current(), keep_on_failure=keep_on_failure,
                            on_registered=on_registered))
                    self._after_build(result)
                except BaseException as exc:  # reported to the request, or logged
                    box["error"] = exc
                    if "record" in box:
                        log.error("build of %s failed: %s; detached from maintenance",
                                  box["record"].infra_id, exc)
                        self._detach(box["record"].infra_id)
                finally:
                    if "record" in box:
                        self._release(box["record"].infra_id)
                    elif target:
                        self._release(target)
                    registered.set()
                    self._done()

            self._spawn(f"rest-build-{description.infra_name}", build)
            registered.wait()
        if "record" not in box:
            raise box["error"]
        record = box["record"]
        return {"infraid": record.infra_id, "name": record.name, "status": "building",
                "maintained": maintain}

    def _after_build(self, result: Mapping[str, Any]) -> None:
        infra_id = result["infra_id"]
        if result["status"] == "ready":
            log.info("built %s (%s)", result.get("name"), infra_id)
            return
        # a failed (and, by default, rolled back) build is not retried by maintenance
        # over and over: the user fixes the description and posts it again, or attaches
        log.warning("build of %s ended %s; detached from maintenance", infra_id,
                    result["status"])
        self._detach(infra_id)

    def _detach(self, infra_id: str) -> None:
        try:
            self.occo.attach(infra_id, maintained=False)
        except Exception as exc:  # forgotten meanwhile, or the store is what failed
            log.debug("could not detach %s: %s", infra_id, exc)

    def start_destroy(self, infra_id: str) -> dict[str, Any]:
        """Detach ``infra_id`` and destroy it in the background."""
        description_of(self.occo, infra_id)
        self._claim(infra_id, "destroying")
        try:
            self.occo.attach(infra_id, maintained=False)
        except BaseException:
            self._release(infra_id)
            raise

        def destroy() -> None:
            try:
                outcome = self._waiting_for_maintainer(lambda: infra_id,
                                                       lambda: self.occo.destroy(infra_id))
                log.info("destroy of %s: %s", infra_id, outcome["status"])
            except BaseException as exc:
                log.error("destroy of %s failed: %s", infra_id, exc)
            finally:
                self._release(infra_id)
                self._done()

        self._spawn(f"rest-destroy-{infra_id[:8]}", destroy)
        return {"infraid": infra_id, "status": "destroying"}

    def start_rollback(self, infra_id: str, *, keep_on_failure: bool = False
                       ) -> dict[str, Any]:
        """Build ``infra_id``'s previous definition in the background (``occo build
        --rollback``); one that has none is refused here, before anything changes."""
        self.occo.previous_definition(infra_id)   # InputError (400) if there is none
        self._claim(infra_id, "building")

        def rollback() -> None:
            try:
                result = self._waiting_for_maintainer(
                    lambda: infra_id, lambda: self.occo.rollback(
                        infra_id, keep_on_failure=keep_on_failure))
                self._after_build(result)
            except BaseException as exc:  # logged: the request was answered already
                log.error("rollback of %s failed: %s", infra_id, exc)
            finally:
                self._release(infra_id)
                self._done()

        self._spawn(f"rest-rollback-{infra_id[:8]}", rollback)
        return {"infraid": infra_id, "status": "building", "rollback": True}

    def _by_name(self, name: str) -> str | None:
        found = [r for r in self.store.list_infrastructures() if r.name == name]
        return max(found, key=lambda r: r.created_at).infra_id if found else None

    # ------------------------------------------------------------------ maintenance

    def maintained_ids(self) -> list[str]:
        """Attached infrastructures that no job of this service is working on."""
        try:
            records = self.store.list_infrastructures()
        except Exception as exc:  # the store may come back; the loop asks again
            log.warning("cannot list infrastructures to maintain: %s", exc)
            return []
        with self._lock:
            busy = set(self._jobs)
        return [r.infra_id for r in records if r.maintained and r.infra_id not in busy]

    def maintain(self) -> None:
        """The maintenance loop; returns when ``stop`` is set."""
        self.maintainer.loop(self.maintained_ids, self.stop)

    def wait(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` seconds for the jobs; the ids of those still running."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads)
                jobs = sorted(self._jobs)
            if not threads:
                return []
            left = deadline - time.monotonic()
            if left <= 0:
                return jobs
            threads[0].join(left)
