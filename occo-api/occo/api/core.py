"""The Python API: ``occo.api.Occo``. The CLI and the REST service are thin layers over it.

Identity of an infrastructure: ``build`` with an explicit ``infra_id`` works on that one;
without, it works on the infrastructure of the same ``infra_name`` if the store has one
(so rerunning a build, after a crash or a change, continues it instead of creating a
second copy that costs money), and creates a new one otherwise.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from occo.compiler import (
    DEFINITION_FILES,
    InstanceLimitError,
    NodeDefinition,
    StaticDescription,
    compile_infrastructure,
    load_node_definitions,
)
from occo.enactor import Decision, LeaseHeld, Observation
from occo.enactor import outdated as outdated_instances
from occo.infobroker import (
    DamagedRecord,
    Event,
    InfraRecord,
    InstanceRecord,
    InstanceState,
    Intent,
    NotFound,
    ScalingRequest,
)
from occo.util import (
    CreateNode,
    DropNode,
    InfraStatus,
    InputError,
    InputErrors,
    Location,
    OccoError,
    collection_paused,
    is_template,
    load_yaml_file,
    location_of,
    new_id,
    scrub,
    suggestion,
)
from occo.util.comm import cloud_client, composer_client

from .build_gate import BuildGate
from .config import Config, load_config
from .errors import (
    AmbiguousInfrastructure,
    BuildFailed,
    InstanceNotFound,
    NodeNotFound,
    UnknownInfrastructure,
)
from .rollout import Rollout, previous_of, with_previous
from .system import System

__all__ = ["Occo"]

log = logging.getLogger(__name__)

LIVE = (Intent.CREATING, Intent.CREATED)
#: the shortest id prefix that names an infrastructure (git and docker take 4 too)
MIN_ID_PREFIX = 4
#: seconds ``status(refresh=True)`` waits for the clouds and health checks, in all
REFRESH_TIMEOUT = 30.0


class Occo:
    """Build, maintain, scale and destroy infrastructures described in Occopus's format."""

    def __init__(self, config: Config | None = None, *, auth_data: str | Path | None = None,
                 system: System | None = None) -> None:
        self.config = config or load_config()
        self.system = system or System(self.config, auth_data=auth_data)
        self.store = self.system.store
        self._damaged_logged: set[str] = set()

    def close(self) -> None:
        self.system.close()

    def __enter__(self) -> Occo:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if getattr(exc, "abandons_work", False):
            return   # the process ends now, leaving the work in flight (the second Ctrl-C)
        self.close()

    # ------------------------------------------------------------------ descriptions

    def _definitions(self, infra: Any, nodes: Sequence[str | Path] | None) -> Any:
        if nodes:
            return [Path(n) for n in nodes]
        if isinstance(infra, (str, Path)):
            base = Path(infra).parent
            if any((base / rel).is_file() for rel in DEFINITION_FILES):
                return None  # the compiler finds them, and names them in its errors
        stored = self.store.list_node_definitions()
        return stored or None

    def validate(self, infra: str | Path | Mapping[str, Any],
                 nodes: Sequence[str | Path] | None = None) -> StaticDescription:
        """Load and compile; raise the located errors (exit status 2) of a bad input."""
        includes = self.config.section("includes")
        return compile_infrastructure(infra, self._definitions(infra, nodes),
                                      allow_outside=bool(includes.get("allow_outside")),
                                      instance_limits=self.config.instance_limits)

    def import_node_definitions(self, paths: Sequence[str | Path]) -> dict[str, int]:
        """Check node definition files and store them; ``{type: implementations}``."""
        defs = load_node_definitions([Path(p) for p in paths])
        self.check_backends(_definition_types(defs.values()), nodes=paths,
                            managers=_definition_types(defs.values(), "config_management"))
        for node_type, definition in defs.items():
            # as the user would write them: sections they left out stay out (not null)
            self.store.put_node_definition(node_type, [
                {k: v for k, v in impl.to_dict().items() if v is not None}
                for impl in definition.implementations])
        return {t: len(d.implementations) for t, d in defs.items()}

    # ------------------------------------------------------------------ infrastructures

    def _find(self, infra_id: str) -> InfraRecord:
        try:
            return self.store.get_infrastructure(infra_id)
        except NotFound:
            raise UnknownInfrastructure(f"no infrastructure {infra_id!r} in the store "
                                        "(occo list shows those there are)",
                                        infra_id=infra_id) from None

    def _find_intact(self, infra_id: str) -> InfraRecord:
        """:meth:`_find`, for a command that will write: its instances and queued scaling
        requests are read first, so that a damaged one raises :class:`DamagedRecord`
        before anything (a status, a queued request) is written."""
        record = self._find(infra_id)
        self.store.list_instances(infra_id)
        self.store.peek_scaling_requests(infra_id)
        return record

    def resolve_infra(self, ref: str) -> str:
        """The id of the infrastructure ``ref`` names: its id, its name when that is
        unique in the store, or a unique prefix (4 characters or more) of its id, like git
        and docker take. Ambiguous or unknown: an InputError (exit 2) listing candidates."""
        try:
            return self.store.get_infrastructure(ref).infra_id
        except NotFound:
            pass
        damaged: list[DamagedRecord] = []
        records = self.readable_infrastructures(damaged)
        named = [r for r in records if r.name == ref]
        if len(named) == 1:
            return named[0].infra_id
        prefixed = [r for r in records if len(ref) >= MIN_ID_PREFIX
                    and r.infra_id.startswith(ref.lower())]
        if len(named) > 1 or len(prefixed) > 1:
            clash = named if len(named) > 1 else prefixed
            raise AmbiguousInfrastructure(
                f"{ref!r} names {len(clash)} infrastructures: "
                + ", ".join(f"{r.name} ({r.infra_id})" for r in clash)
                + "; give the id (or a longer prefix of it)", infra_id=ref)
        if prefixed:
            return prefixed[0].infra_id
        known = ", ".join(f"{r.name} ({r.infra_id[:8]})" for r in records) or "none"
        hint = suggestion(ref, [r.name for r in records]) if records else ""
        hint = hint if hint.startswith("; did you mean") else ""
        unread = (f"; and {len(damaged)} that cannot be read (damaged: "
                  f"{', '.join(d.key for d in damaged)})") if damaged else ""
        raise UnknownInfrastructure(
            f"no infrastructure {ref!r} in the store (an id, a unique name, or a unique id "
            f"prefix of {MIN_ID_PREFIX} or more characters){hint}; there are: {known}{unread}",
            infra_id=ref)

    def readable_infrastructures(self, damaged: list[DamagedRecord] | None = None
                                 ) -> list[InfraRecord]:
        """The stored infrastructures whose records can be read, oldest first; each that
        cannot is logged (once per process) and appended to ``damaged`` if given, so that
        one damaged record does not stop commands about the others."""
        found: list[DamagedRecord] = []
        records = self.store.list_infrastructures(damaged=found)
        for exc in found:
            if exc.key not in self._damaged_logged:
                self._damaged_logged.add(exc.key)
                log.warning("%s", exc)
        if damaged is not None:
            damaged.extend(found)
        return records

    def _by_name(self, name: str) -> InfraRecord | None:
        found = [r for r in self.readable_infrastructures() if r.name == name]
        return max(found, key=lambda r: r.created_at) if found else None

    def installed_types(self) -> list[str]:
        """The resource types the cloud handler has a backend for: its own entry point
        scan (``occo.cloudhandler`` group), asked over the endpoint it is served on."""
        backends = cloud_client(self.system.cloud, timeout=60).backends()
        return sorted(backends.get("handlers", [])) if isinstance(backends, Mapping) else []

    def backend_problems(self, uses: Iterable[tuple[str | None, str, Any]], *,
                         infra: Any = None, nodes: Sequence[str | Path] | None = None
                         ) -> list[InputError]:
        """One located error per (node, resource type) whose type has no backend.

        ``uses`` are ``(node name or None, node type, resource type)``; ``infra`` and
        ``nodes`` say where the node definitions were read from, to name the file and
        line of each ``type`` (stored definitions have no file: only their path is named).
        """
        wanted = {(node, ntype, rtype) for node, ntype, rtype in uses
                  if isinstance(rtype, str) and not is_template(rtype)}
        if not wanted:
            return []
        installed = self.installed_types()
        missing = sorted((n or "", t, r) for n, t, r in wanted if r not in installed)
        if not missing:
            return []
        where = _TypeLocator(self._definition_files(infra, nodes),
                             bool(self.config.section("includes").get("allow_outside")))
        names = ", ".join(installed) or "none"
        return [InputError(f"resource type {rtype!r} of "
                           + (f"node {node!r}" if node else f"node type {ntype!r}")
                           + f" has no backend installed here; installed: {names}",
                           location=where.find(ntype, rtype), node=node or None)
                for node, ntype, rtype in missing]

    def config_manager_problems(self, uses: Iterable[tuple[str | None, str, Any]], *,
                                infra: Any = None, nodes: Sequence[str | Path] | None = None
                                ) -> list[InputError]:
        """One located error per (node, config manager type) that OCCO refuses outright
        (``chef``): found before a build stores anything, not when a node is prepared.
        ``uses`` are ``(node name or None, node type, config_management type)``."""
        wanted = {(node or "", ntype, ctype) for node, ntype, ctype in uses
                  if isinstance(ctype, str) and not is_template(ctype)}
        if not wanted:
            return []
        found = composer_client(self.system.composer, timeout=60).config_managers()
        refused = found.get("unsupported", {}) if isinstance(found, Mapping) else {}
        bad = sorted(u for u in wanted if u[2] in refused)
        if not bad:
            return []
        where = _TypeLocator(self._definition_files(infra, nodes),
                             bool(self.config.section("includes").get("allow_outside")))
        return [InputError((f"node {node!r}: " if node else f"node type {ntype!r}: ")
                           + refused[ctype],
                           location=where.find(ntype, ctype, section="config_management"),
                           node=node or None)
                for node, ntype, ctype in bad]

    def check_backends(self, uses: Iterable[tuple[str | None, str, Any]], *,
                       infra: Any = None, nodes: Sequence[str | Path] | None = None,
                       managers: Iterable[tuple[str | None, str, Any]] = ()) -> None:
        """Raise (exit status 2, REST 400) if any resource type has no backend here, or a
        config manager type is one OCCO refuses."""
        problems = self.backend_problems(uses, infra=infra, nodes=nodes) \
            + self.config_manager_problems(managers, infra=infra, nodes=nodes)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise InputErrors(problems)

    def _definition_files(self, infra: Any, nodes: Sequence[str | Path] | None
                          ) -> list[tuple[Path, Path]]:
        """``(file, include root)`` of the node definitions a compile reads, as the
        compiler picks them; empty for stored definitions and loaded mappings."""
        base = Path(infra).resolve().parent if isinstance(infra, (str, Path)) else None
        if nodes:
            paths = [Path(n) for n in nodes]
        elif base is not None:
            paths = [base / rel for rel in DEFINITION_FILES if (base / rel).is_file()]
        else:
            return []
        return [(p, base if base is not None and p.resolve().is_relative_to(base)
                 else p.resolve().parent) for p in paths]

    def preflight(self, description: StaticDescription, *, infra: Any = None,
                  nodes: Sequence[str | Path] | None = None) -> None:
        """Before anything is stored or queued: every node's resource types have a backend
        here (else located InputErrors, exit 2), and every resource has a backend and
        matching credentials (the cloud handler's own preflight)."""
        self.check_backends(_description_types(description), infra=infra, nodes=nodes,
                            managers=_description_types(description, "config_management"))
        self._preflight(description)

    def plan_warnings(self, description: StaticDescription, *, infra: Any = None,
                      nodes: Sequence[str | Path] | None = None) -> list[str]:
        """What keeps a valid description from being built here (for ``plan``)."""
        problems = self.backend_problems(_description_types(description), infra=infra,
                                         nodes=nodes) + self.config_manager_problems(
            _description_types(description, "config_management"), infra=infra, nodes=nodes)
        return [f"cannot be built here: {problem}" for problem in problems]

    def _preflight(self, description: StaticDescription) -> None:
        """Every resource has a backend and matching credentials, before anything is made."""
        problems: list[OccoError] = []
        seen: set[str] = set()
        for node in description:
            for impl in node.implementations:
                resource = impl.to_dict()["resource"]
                if any(is_template(v) for v in resource.values()):
                    continue  # known only once rendered
                key = repr(sorted(resource.items(), key=str))
                if key in seen:
                    continue
                seen.add(key)
                try:
                    cloud_client(self.system.cloud, timeout=60).preflight(resource=resource,
                                                                          node=node.name)
                except OccoError as exc:
                    problems.append(exc)
        if problems:  # the installed backends (an entry point scan) only for the message
            backends = cloud_client(self.system.cloud, timeout=60).backends()
            names = ", ".join(backends.get("handlers", [])) \
                if isinstance(backends, Mapping) else ""
            raise BuildFailed("cannot build: " + "; ".join(p.message for p in problems)
                              + (f" (clouds with a backend: {names})" if names else ""),
                              exit_code=2)

    def _stored_for(self, description: StaticDescription, infra_id: str | None
                    ) -> InfraRecord | None:
        """The stored infrastructure ``description`` builds: ``infra_id``'s (which must
        carry the description's name), else the one of its name, else None (a new one)."""
        if not infra_id:
            existing = self._by_name(description.infra_name)
            return existing and self._find_intact(existing.infra_id)
        existing = self._find_intact(infra_id)
        if existing.name != description.infra_name:
            raise InputError(
                f"infrastructure {existing.infra_id} is named {existing.name!r}, but the "
                f"description is of {description.infra_name!r}: build it without -i to "
                f"make a new infrastructure, or set its infra_name to {existing.name!r} "
                "to change this one", infra_id=existing.infra_id)
        return existing

    def register(self, description: StaticDescription, *, infra_id: str | None = None
                 ) -> InfraRecord:
        """Store the description: update the named (or same-named) one, or create it."""
        existing = self._stored_for(description, infra_id)
        if existing is None:
            record = InfraRecord(infra_id=new_id(), name=description.infra_name,
                                 user_id=description.user_id,
                                 description=description.to_dict(),
                                 status=InfraStatus.BUILDING)
            self.store.create_infrastructure(record)
            self.store.scaling_secret(record.infra_id)  # makes the store's key if it has none
            self.store.append_event(Event(type="infra.created", infra_id=record.infra_id,
                                          details={"name": record.name}))
            return record
        return self.store.update_infrastructure(
            existing.infra_id, expected_version=None,
            description=with_previous(description.to_dict(), existing.description),
            status=InfraStatus.BUILDING)

    def plan(self, infra: str | Path | Mapping[str, Any] | None = None,
             nodes: Sequence[str | Path] | None = None, *, infra_id: str | None = None
             ) -> dict[str, Any]:
        """What build (for a description) or maintain (for a stored one) would do now."""
        if infra is None:
            if not infra_id:
                raise InputError("plan needs a description or an infrastructure id")
            record = self._find(infra_id)
            decision = self.system.enactor.plan(record.infra_id)
            return _plan_dict(record.infra_id, record.name, decision,
                              StaticDescription.from_dict(record.description))
        description = self.validate(infra, nodes)
        warnings = self.plan_warnings(description, infra=infra, nodes=nodes)
        existing = self._stored_for(description, infra_id)
        if existing is not None:
            # what would change if this description replaced the stored one
            from occo.enactor import decide
            decision = decide(description, self.store.list_instances(existing.infra_id),
                              infra_id=existing.infra_id,
                              targets=self.store.get_scaling_targets(existing.infra_id),
                              requests=self.store.peek_scaling_requests(existing.infra_id),
                              timers=self.store.get_failure_timers(existing.infra_id),
                              now=time.time(), config=self.system.maintenance,
                              choose=self.system.enactor.chooser.choose)
            return _plan_dict(existing.infra_id, description.infra_name, decision,
                              description, warnings)
        from occo.enactor import decide
        decision = decide(description, [], infra_id="(new)", targets={}, now=time.time(),
                          config=self.system.maintenance,
                          choose=self.system.enactor.chooser.choose)
        return _plan_dict(None, description.infra_name, decision, description, warnings)

    def build(self, infra: str | Path | Mapping[str, Any],
              nodes: Sequence[str | Path] | None = None, *, infra_id: str | None = None,
              keep_on_failure: bool = False,
              on_registered: Callable[[InfraRecord], None] | None = None,
              gate: BuildGate | None = None,
              auto_rollback: bool | None = None) -> dict[str, Any]:
        """Compile, store and build; returns the outcome with the infrastructure id.

        On failure the partial infrastructure is rolled back unless ``keep_on_failure``.
        ``gate`` stopped (Ctrl-C) before the description is stored ends the build with
        nothing stored (status ``cancelled``, infra_id None); stopped before the pass
        executes, with nothing created and the infrastructure's status as it was.
        Instances of a changed definition are replaced in turn (:mod:`.rollout`); a
        rollout that fails returns to the previous definition with ``auto_rollback``
        (default: the configuration's ``rollout.auto_rollback``), its outcome under
        ``rolled_back``.
        """
        description = self.validate(infra, nodes)
        self.preflight(description, infra=infra, nodes=nodes)
        outcome = self._build(description, infra_id=infra_id,
                              keep_on_failure=keep_on_failure, on_registered=on_registered,
                              gate=gate or BuildGate())
        if auto_rollback is None:
            auto_rollback = bool(self.config.rollout.get("auto_rollback"))
        rollout = outcome.get("rollout") or {}
        if auto_rollback and rollout and not rollout.get("finished") \
                and outcome["status"] != "cancelled" and not (gate and gate.stopped) \
                and previous_of(self.store.get_infrastructure(
                    outcome["infra_id"]).description) is not None:
            self.store.append_event(Event(
                type="rollout.rolling_back", infra_id=outcome["infra_id"],
                details={"message": "the rollout failed: returning to the previous "
                                    "definition (rollout.auto_rollback)"}))
            outcome["rolled_back"] = self.rollback(outcome["infra_id"],
                                                   keep_on_failure=keep_on_failure)
        return outcome

    def rollback(self, infra_id: str, *, keep_on_failure: bool = False,
                 on_registered: Callable[[InfraRecord], None] | None = None,
                 gate: BuildGate | None = None) -> dict[str, Any]:
        """Build the definition the last change replaced (``occo build --rollback``): its
        instances are kept or made again, the new definition's replaced in turn, like any
        build. The definition rolled back from becomes the previous one."""
        record, description = self.previous_definition(infra_id)
        self.preflight(description)
        return self._build(description, infra_id=record.infra_id,
                           keep_on_failure=keep_on_failure, on_registered=on_registered,
                           gate=gate or BuildGate())

    def previous_definition(self, infra_id: str) -> tuple[InfraRecord, StaticDescription]:
        """The stored infrastructure and the definition its last change replaced; an
        InputError (exit 2, REST 400) if it has none."""
        record = self._find(infra_id)
        previous = previous_of(record.description)
        if previous is None:
            raise InputError(
                f"infrastructure {record.infra_id} ({record.name}) has no previous "
                "definition to return to: it has only been built from one description",
                infra_id=record.infra_id)
        return record, StaticDescription.from_dict(previous)

    def _build(self, description: StaticDescription, *, infra_id: str | None,
               keep_on_failure: bool, gate: BuildGate,
               on_registered: Callable[[InfraRecord], None] | None = None
               ) -> dict[str, Any]:
        """Store ``description`` and run its passes until nothing is outdated."""
        before = self._stored_for(description, infra_id)
        with gate.passing() as go:
            if not go:
                return {"status": "cancelled", "infra_id": None,
                        "name": description.infra_name, "created": 0, "ready": 0,
                        "dropped": 0, "replaced": 0, "failures": [], "drop_failures": [],
                        "outdated": 0}
            gate.before = before.status if before is not None else None
            record = self.register(description, infra_id=infra_id)
            if on_registered is not None:
                on_registered(record)

        def one_pass() -> dict[str, Any]:
            return self.system.enactor.maintain_once(record.infra_id,
                                                     keep_on_failure=keep_on_failure,
                                                     proceed=gate.execute, rollout=True)
        try:
            outcome = Rollout(self.store, record.infra_id, one_pass).run(one_pass())
        except BaseException as exc:
            self._build_broke(record, before, exc)
            raise
        status = InfraStatus({"unchanged": "ready"}.get(outcome["status"], outcome["status"]))
        if outcome.get("executed") is False and before is not None:
            status = before.status   # stopped before it did anything
        self.store.update_infrastructure(record.infra_id, expected_version=None, status=status)
        outdated = int(outcome.get("outdated") or 0)
        warnings = [f"{outdated} instance(s) of the previous definition are still serving: "
                    "the rollout did not finish; `occo build` again carries it on, "
                    "`occo build --rollback` returns to the previous definition"
                    ] if outdated else []
        return {**outcome, "infra_id": record.infra_id, "name": record.name, "status": status,
                "outdated": outdated, "warnings": warnings}

    def _build_broke(self, record: InfraRecord, before: InfraRecord | None,
                     exc: BaseException) -> None:
        """A build that raised (the store, the cloud or the process failed under it) does
        not leave the infrastructure ``building``: a new one is ``failed``, one that
        existed gets back the status it had (the pass that broke changed nothing the
        store does not record), and the reason is an event."""
        status = before.status if before is not None and before.status != InfraStatus.BUILDING \
            else InfraStatus.FAILED
        reason = scrub(str(exc) or type(exc).__name__) if not isinstance(
            exc, KeyboardInterrupt) else "interrupted"
        try:
            current = self.store.get_infrastructure(record.infra_id)
            if current.status.build_running:
                self.store.update_infrastructure(record.infra_id, expected_version=None,
                                                 status=status)
            self.store.append_event(Event(type="build.failed", infra_id=record.infra_id,
                                          details={"reason": reason, "status": status}))
        except Exception as again:  # the store may be what failed; the error says why
            log.debug("could not record the failed build of %s: %s", record.infra_id, again)

    def stopped_before_execute(self, infra_id: str, before: str | None) -> None:
        """A build stopped (Ctrl-C) after storing its description and before creating
        anything: a new infrastructure is ``cancelled``, one that existed gets back its
        status (``before``); an event says so."""
        status = InfraStatus(before) if before and not InfraStatus(before).build_running \
            else InfraStatus.CANCELLED
        self.store.update_infrastructure(infra_id, expected_version=None, status=status)
        self.store.append_event(Event(type="build.cancelled", infra_id=infra_id, details={
            "reason": "interrupted before anything was created", "status": status}))

    def left_at_once(self, infra_id: str) -> None:
        """The build of ``infra_id`` was interrupted twice and left without winding down:
        it is recorded as failed (never ``cancelling`` with nobody to finish), with an
        event saying how to clean up."""
        record = self.store.get_infrastructure(infra_id)
        if record.status.build_running:
            self.store.update_infrastructure(infra_id, expected_version=None,
                                             status=InfraStatus.FAILED)
        self.store.append_event(Event(type="build.abandoned", infra_id=infra_id, details={
            "reason": "interrupted twice: the build was left at once; the nodes it started "
                      "are in the store, and `occo maintain` or `occo build` adopts them "
                      "(`occo destroy` drops them)"}))

    def cancel(self, infra_id: str) -> bool:
        """Ask a running build of ``infra_id`` to stop and roll back. The request is also
        written to the store, so a processor worker on another machine sees it too."""
        return self.system.enactor.cancel(infra_id)

    def maintain_once(self, infra_id: str, *, clean_orphans: bool = False) -> dict[str, Any]:
        """One maintenance pass: heal, apply scaling requests, report (or clean) drift."""
        self._find_intact(infra_id)
        outcome = self.system.enactor.maintain_once(infra_id, clean_orphans=clean_orphans)
        if outcome["status"] not in ("unchanged",):
            status = InfraStatus(outcome["status"])
            self.store.update_infrastructure(infra_id, expected_version=None, status=status)
        return outcome

    def maintain(self, infra_id: str | None = None, *, once: bool = True,
                 stop: Any = None, clean_orphans: bool = False) -> list[dict[str, Any]]:
        """One pass over ``infra_id`` (or every stored infrastructure), or a loop until
        ``stop`` (a threading.Event) is set."""
        if once:
            if infra_id:
                return [self.maintain_once(infra_id, clean_orphans=clean_orphans)]
            return [self._maintain_readable(r.infra_id, clean_orphans)
                    for r in self.readable_infrastructures()]
        if infra_id:
            self._find(infra_id)
        self.system.enactor.loop(
            lambda: [infra_id] if infra_id else
            [r.infra_id for r in self.readable_infrastructures() if r.maintained],
            stop)
        return []

    def _maintain_readable(self, infra_id: str, clean_orphans: bool) -> dict[str, Any]:
        """One infrastructure of a pass over all of them: one with a damaged record is
        reported as ``damaged`` (and left untouched) and the others are maintained."""
        try:
            return self.maintain_once(infra_id, clean_orphans=clean_orphans)
        except DamagedRecord as exc:
            log.warning("%s", exc)
            return {"infra_id": infra_id, "status": "damaged", "created": 0, "dropped": 0,
                    "healed": 0, "error": str(exc)}

    def scaling_request(self, infra_id: str, node: str, *, change: int | None = None,
                        to: int | None = None, remove: str | None = None,
                        field: str | None = None) -> ScalingRequest:
        """The request :meth:`scale` queues, checked and built, writing nothing: an
        unknown infrastructure, node or instance, or a count beyond the bounds, raise
        (``field`` names the count as the caller took it, see check_scale_bound)."""
        record = self._find_intact(infra_id)
        description = StaticDescription.from_dict(record.description)
        if node not in description:
            raise NodeNotFound(f"infrastructure {infra_id} has no node {node!r}"
                               f"{suggestion(node, description.node_names)}",
                               infra_id=infra_id, node=node)
        if sum(x is not None for x in (change, to, remove)) != 1:
            raise InputError("give exactly one of a change (+N/-N), a count, or an instance "
                             "id or address to remove")
        if change == 0:
            raise InputError("a change of 0 instances changes nothing: give +N or -N",
                             infra_id=infra_id, node=node)
        self.check_scale_bound(description, infra_id, node, change=change, to=to, field=field)
        if remove is not None:
            rec = self._instance(record, node, remove)
            return ScalingRequest(infra_id=infra_id, node_name=node, kind="destroy",
                                  instance_id=rec.instance_id)
        if to is not None:
            if to < 0:
                raise InputError(f"a node count must be >= 0, got {to}", infra_id=infra_id,
                                 node=node)
            return ScalingRequest(infra_id=infra_id, node_name=node, kind="set", count=to)
        assert change is not None  # exactly one of the three is given: not remove, not to
        kind = "create" if change >= 0 else "destroy"
        return ScalingRequest(infra_id=infra_id, node_name=node, kind=kind, count=abs(change))

    def scale(self, infra_id: str, node: str, *, change: int | None = None,
              to: int | None = None, remove: str | None = None, apply: bool = True
              ) -> dict[str, Any]:
        """Queue a scaling request; with ``apply``, carry it out now unless a maintainer
        holds the infrastructure (then it applies it on its next pass)."""
        req = self.scaling_request(infra_id, node, change=change, to=to, remove=remove)
        self.store.push_scaling_request(req)
        result: dict[str, Any] = {"infra_id": infra_id, "node": node, "queued": req.to_dict(),
                                  "applied": False, "warnings": []}
        if not apply:
            return result
        decisions: list[Decision] = []
        try:
            outcome = self.system.enactor.maintain_once(infra_id, on_decision=decisions.append)
        except LeaseHeld as exc:
            result["warnings"].append(f"{exc}; it applies the request on its next pass")
            return result
        for decision in decisions:
            result["warnings"] += [e["message"] for e in decision.events
                                   if e["type"] == "scaling.clamped"]
            result["target"] = decision.targets.get(node)
        if outcome.get("status") == "unchanged" and remove is None:
            have = len(self._live(infra_id, node))
            result["notes"] = [f"node {node!r} already has {have} instance(s), the count "
                               "asked for: nothing to do"]
        result.update(applied=True, outcome=outcome)
        return result

    def check_scale_bound(self, description: StaticDescription, infra_id: str, node: str, *,
                          change: int | None = None, to: int | None = None,
                          field: str | None = None) -> None:
        """Raise InstanceLimitError (exit 2, REST 400) naming the field (``count``,
        ``change``, or ``field`` as the caller calls it) of a scale request for more
        instances than ``instances:`` allows one node, before anything is queued. Growing
        a node whose stored ``max`` is above the bounds (a description stored before they
        were lowered) is refused too: clamping to that ``max`` would not hold it."""
        limits = self.config.instance_limits
        if to is not None:
            limits.check_count(to, field=field or "count", node=node, infra_id=infra_id)
        elif change is not None and change > 0:
            limits.check_count(change, field=field or "change", node=node, infra_id=infra_id)
        else:
            return
        most = description.node(node).scaling.max
        if most > limits.max_per_node:
            raise InstanceLimitError(
                f"node {node!r} may grow to {most} instances (its scaling.max as stored), "
                f"more than the limit of {limits.max_per_node} per node (setting "
                "instances.max_per_node): build the description again within the limit "
                "before scaling it up", location=Location(path="scaling.max"), node=node,
                infra_id=infra_id)
        too_many = limits.check_total(((n.name, n.scaling.max) for n in description),
                                      where=None)
        if too_many is not None:
            too_many.infra_id = infra_id
            too_many.message += (" (as stored): build the description again within the "
                                 "limit before scaling it up")
            raise too_many

    def _live(self, infra_id: str, node: str) -> list[InstanceRecord]:
        return [r for r in self.store.list_instances(infra_id)
                if r.node_name == node and r.intent in LIVE]

    def _instance(self, record: InfraRecord, node: str, key: str) -> InstanceRecord:
        """The live instance of ``node`` that ``key`` names: its id, a unique prefix of
        it (4 characters or more), or one of its addresses; else InstanceNotFound
        (exit 2) listing the instances there are."""
        live = self._live(record.infra_id, node)
        exact = [r for r in live if key == r.instance_id or key in (r.addresses or [])
                 or key in (r.private_addresses or [])]
        found = exact or [r for r in live if len(key) >= MIN_ID_PREFIX
                          and r.instance_id.startswith(key)]
        if len(found) == 1:
            return found[0]
        listed = ", ".join(f"{r.instance_id[:8]} ({', '.join(r.addresses or []) or 'no address'})"
                           for r in live) or "none"
        if found:
            raise InputError(f"{key!r} names {len(found)} instances of node {node!r}: "
                             f"{listed}; give more of the id", infra_id=record.infra_id)
        raise InstanceNotFound(f"node {node!r} of infrastructure {record.name} "
                               f"({record.infra_id}) has no instance with the id or address "
                               f"{key!r}; its instances: {listed}", infra_id=record.infra_id,
                               node=node)

    def destroy(self, infra_id: str) -> dict[str, Any]:
        """Drop every node of the infrastructure, then forget it (kept if a drop failed)."""
        record = self._find_intact(infra_id)
        return {**self.system.enactor.destroy(infra_id), "name": record.name}

    def attach(self, infra_id: str, maintained: bool = True) -> dict[str, Any]:
        """Mark the infrastructure as maintained by ``occo serve`` / ``occo maintain``."""
        self._find(infra_id)
        rec = self.store.update_infrastructure(infra_id, expected_version=None,
                                               maintained=maintained)
        return {"infra_id": infra_id, "maintained": rec.maintained}

    # ------------------------------------------------------------------ reading

    def list(self) -> list[dict[str, Any]]:
        """Every stored infrastructure. One whose records cannot be read is listed with
        ``status`` ``damaged`` and the error as ``damaged`` (``None`` for the others)."""
        damaged: list[DamagedRecord] = []
        out = []
        for rec in self.readable_infrastructures(damaged):
            entry = {"infra_id": rec.infra_id, "name": rec.name, "status": rec.status,
                     "maintained": rec.maintained, "created_at": rec.created_at,
                     "instances": 0, "ready": 0, "wanted": 0, "last_event": None,
                     "damaged": None}
            try:
                instances = self.store.list_instances(rec.infra_id)
                last = self.store.last_event(rec.infra_id)
                wanted = sum(self.store.get_scaling_targets(rec.infra_id).values())
            except DamagedRecord as exc:
                entry.update(status=InfraStatus.DAMAGED, damaged=str(exc), instances=None,
                             ready=None,
                             wanted=None)
            except NotFound:
                continue     # destroyed since it was listed
            else:
                entry.update(instances=len(instances), wanted=wanted,
                             ready=sum(i.state == InstanceState.READY for i in instances),
                             last_event=None if last is None else last.to_dict())
            out.append(entry)
        out += [{"infra_id": exc.key, "name": None, "status": InfraStatus.DAMAGED,
                 "maintained": None,
                 "created_at": None, "instances": None, "ready": None, "wanted": None,
                 "last_event": None, "damaged": str(exc)}
                for exc in damaged]
        return out

    def status(self, infra_id: str, refresh: bool = False, *,
               timeout: float = REFRESH_TIMEOUT) -> dict[str, Any]:
        """Nodes, their instances (state, addresses) and scaling: actual, target, min, max.

        States are as stored, each with when it was last confirmed (``confirmed_at``) and
        by what (``confirmed_by``: ``maintenance``, a pass that observed it; ``processor``,
        the build, scaling or healing that wrote it); ``confirmed_at`` at the top is the
        oldest. With ``refresh`` the clouds and health checks are asked now, as a
        maintenance pass asks them (:meth:`occo.enactor.Probe.observe`), within
        ``timeout`` seconds in all, and what they say is shown (``confirmed_by``
        ``refresh``; ``unknown`` with the reason for what did not answer). A refresh
        writes nothing (no state, event, failure timer or lease), heals and queues
        nothing: the next maintenance pass observes, records and heals as it always does.
        """
        record = self._find(infra_id)
        description = StaticDescription.from_dict(record.description)
        targets = self.store.get_scaling_targets(infra_id)
        seen = self.system.enactor.probe.observe(infra_id, description, budget=timeout,
                                                 tolerant=True) if refresh else None
        instances = seen.records if seen else self.store.list_instances(infra_id)
        with collection_paused():   # a view per instance: 10,000 dicts for a large one
            views = _instance_views(instances, seen)
            stale = outdated_instances(description, instances)[0]
        for items in stale.values():
            for item in items:
                if item["instance_id"] in views:
                    views[item["instance_id"]]["outdated"] = True
        by_node: dict[str, list[InstanceRecord]] = {}
        for i in sorted(instances, key=lambda i: i.created_at):
            by_node.setdefault(i.node_name, []).append(i)
        nodes = []
        for node in description:
            mine = by_node.get(node.name, [])
            nodes.append({
                "name": node.name, "type": node.type,
                "scaling": {"actual": sum(i.intent in LIVE for i in mine),
                            "target": targets.get(node.name, node.scaling.min),
                            "min": node.scaling.min, "max": node.scaling.max},
                "instances": [views[i.instance_id] for i in mine]})
        return {"infra_id": infra_id, "name": record.name, "status": record.status,
                "maintained": record.maintained, "nodes": nodes,
                "ready": sum(v["state"] == InstanceState.READY for v in views.values()),
                "instances": len(instances), **_confirmation(list(views.values()), seen)}

    def events(self, infra_id: str, after: int = 0,
               limit: int = 1000) -> builtins.list[dict[str, Any]]:  # `list`: Occo.list here
        self._find(infra_id)
        return [e.to_dict() for e in self.store.read_events(infra_id, after=after, limit=limit)]


def _stored_confirmation(rec: InstanceRecord) -> tuple[float, str]:
    """When the stored state was last confirmed, and by what: the maintenance pass that
    last observed it (``checked_at``), or the processor's write of it (``updated_at``)."""
    if rec.checked_at is not None and rec.checked_at >= rec.updated_at:
        return rec.checked_at, "maintenance"
    return rec.updated_at, "processor"


def _stored_view(rec: InstanceRecord) -> tuple[str, str | None, float, str]:
    """``(state, failure reason, confirmed at, confirmed by)`` as stored."""
    return (str(rec.state), (rec.failure or {}).get("reason"), *_stored_confirmation(rec))


def _seen_view(rec: InstanceRecord, seen: Observation, checked: set[str]
               ) -> tuple[str, str | None, float, str]:
    """``(state, failure reason, confirmed at, confirmed by)`` as a refresh saw it:
    the state a maintenance pass would record, ``unknown`` (and why) where nothing
    answered, the stored state for an instance a pass does not ask about."""
    stored = _stored_view(rec)
    if rec.instance_id in seen.unknown:
        return str(InstanceState.UNKNOWN), seen.unknown[rec.instance_id], *stored[2:]
    if rec.instance_id not in checked:
        return stored
    change = seen.changes.get(rec.instance_id)
    if change is None:
        return stored[0], stored[1], seen.time, "refresh"
    return str(change["state"]), (change["failure"] or {}).get("reason"), seen.time, "refresh"


def _instance_views(instances: Sequence[InstanceRecord], seen: Observation | None
                    ) -> dict[str, dict[str, Any]]:
    """Each instance as ``status`` shows it, by id: stored, or as ``seen`` by a refresh."""
    checked = set(seen.checked) if seen else set()
    views = {}
    for i in instances:
        state, failure, confirmed_at, confirmed_by = \
            _seen_view(i, seen, checked) if seen else _stored_view(i)
        views[i.instance_id] = {
            "instance_id": i.instance_id, "state": state, "stored_state": str(i.state),
            "intent": str(i.intent), "addresses": i.addresses,
            "private_addresses": i.private_addresses, "created_at": i.created_at,
            "ready_at": i.ready_at, "failure": failure, "confirmed_at": confirmed_at,
            "confirmed_by": confirmed_by, "outdated": False}
    return views


def _confirmation(views: list[dict[str, Any]], seen: Observation | None) -> dict[str, Any]:
    """The top of a status: the oldest confirmation, and whether this was a refresh."""
    oldest = min(views, key=lambda v: v["confirmed_at"], default=None)
    return {"confirmed_at": oldest["confirmed_at"] if oldest else None,
            "confirmed_by": oldest["confirmed_by"] if oldest else None,
            "refreshed": seen is not None, "observed_at": seen.time if seen else None}


def _section_type(impl: Any, section: str) -> Any:
    value = getattr(impl, section)
    return value.get("type") if isinstance(value, Mapping) else None


def _description_types(description: StaticDescription, section: str = "resource"
                       ) -> list[tuple[str | None, str, Any]]:
    """``(node, node type, the section's type)`` of every implementation."""
    return [(node.name, node.type, _section_type(impl, section))
            for node in description for impl in node.implementations]


def _definition_types(definitions: Iterable[NodeDefinition], section: str = "resource"
                      ) -> list[tuple[str | None, str, Any]]:
    return [(None, d.type, _section_type(impl, section))
            for d in definitions for impl in d.implementations]


class _TypeLocator:
    """Where the first implementation of a node type with a given section ``type`` was
    written. The compiled model keeps no locations, so the definition files are read
    again (only when there is something to report)."""

    def __init__(self, files: Sequence[tuple[Path, Path]], allow_outside: bool) -> None:
        self.files = files
        self.allow_outside = allow_outside
        self._loaded: list[Any] | None = None

    def _data(self) -> list[Any]:
        if self._loaded is None:
            self._loaded = []
            for path, root in self.files:
                try:
                    self._loaded.append(load_yaml_file(path, root=root,
                                                       allow_outside=self.allow_outside))
                except (OccoError, OSError):
                    continue  # it compiled a moment ago; without it only the path is named
        return self._loaded

    def find(self, node_type: str, rtype: str, *, section: str = "resource") -> Location:
        key = f"node_def:{node_type}"
        for data in self._data():
            impls = data.get(key) if isinstance(data, Mapping) else None
            for i, impl in enumerate(impls if isinstance(impls, list) else ()):
                part = impl.get(section) if isinstance(impl, Mapping) else None
                if isinstance(part, Mapping) and part.get("type") == rtype:
                    found = location_of(part, "type", path=f"{key}[{i}].{section}.type")
                    if found is not None:
                        return found
        return Location(file="the stored node definitions" if not self.files else None,
                        path=f"{key}.{section}.type")


def _plan_dict(infra_id: str | None, name: str, decision: Decision,
               description: StaticDescription, warnings: Sequence[str] = ()
               ) -> dict[str, Any]:
    """The plan as a dict; a node with instances to replace also carries its ``update``
    limits (how many a build replaces at a time)."""
    per_node: dict[str, dict[str, Any]] = {}

    def entry_of(node: Any) -> dict[str, Any]:
        return per_node.setdefault(node, {"create": 0, "drop": 0, "replace": 0,
                                          "unchanged": 0, "reasons": [],
                                          "replacements": []})
    for node, count in decision.unchanged.items():
        entry_of(node)["unchanged"] = count
    for node, items in decision.outdated.items():
        entry = entry_of(node)
        entry["replace"] = len(items)
        entry["replacements"] = items
        if items and node in description:
            entry["update"] = description.node(node).update.to_dict()
    for ins in decision.instructions:
        # a pass decides node instructions only (the enactor's decide)
        assert isinstance(ins, (CreateNode, DropNode))
        node = ins.node_name
        entry = entry_of(node)
        kind = "create" if ins.kind == "create_node" else "drop"
        entry[kind] += 1
        if ins.reason and ins.reason not in entry["reasons"]:
            entry["reasons"].append(ins.reason)
    # a warning is also an event with a message, which ``occo plan`` prints
    events = list(decision.events) + [{"type": "plan.cannot_build", "message": w}
                                      for w in warnings]
    replaces = sum(len(items) for items in decision.outdated.values())
    return {"infra_id": infra_id, "name": name, "targets": decision.targets, "nodes": per_node,
            "events": events, "warnings": list(warnings),
            "creates": len(decision.creates), "drops": len(decision.drops),
            "replaces": replaces, "outdated": replaces,
            "unchanged": sum(decision.unchanged.values())}
