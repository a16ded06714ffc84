"""``occo store migrate|check|copy``: the state store itself.

- ``migrate`` brings a store's schema up to date (PostgreSQL's numbered migrations; the
  other backends lay their schema out when they are opened) and says what it applied.
- ``check`` reads every record of a store through the store interface (so a record that
  cannot be decoded is found), without writing anything, and prints what it holds;
  for SQLite it also runs the file's integrity check. A PostgreSQL schema that needs a
  migration is reported (exit 1), not migrated. Damaged records are listed (exit 1):
  every damaged infrastructure, node definitions and event, every instance with a field
  of the wrong kind, and of the instances and the queued scaling requests of an
  infrastructure the first that cannot be read at all (the store reads those as a whole).
- ``copy SRC DST`` copies node definitions and every infrastructure with its instances,
  scaling targets, queued requests, failure timers and events, then counts both sides
  and fails if they differ. A target that holds anything is refused unless ``--force``;
  then an infrastructure of the same id in the target is replaced. One store under two
  names (``x.sqlite`` and ``sqlite://x.sqlite``) is refused, found by a lease taken in
  the source and looked for in the target. Versions start again at 1 in the target;
  leases are not copied (they belong to running processes: stop OCCO while copying).
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from occo.infobroker import DamagedRecord, Store, StoreError, open_store, redact_url, state_backend
from occo.util import EXIT_FAILED, new_id

from .errors import UsageError
from .render import print_json

__all__ = ["add_parser", "run", "counts", "copy_store"]

_KINDS = ("infrastructures", "node_definitions", "instances", "scaling_targets",
          "scaling_requests", "failure_timers", "events")
_PAGE = 1000


def add_parser(p: argparse.ArgumentParser) -> None:
    """The ``store`` subcommands, on the parser of ``occo store``."""
    p.set_defaults(handler=run)
    sub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    for name, what in (("migrate", "bring the store's schema up to date"),
                       ("check", "read every record, write nothing, and count them")):
        q = sub.add_parser(name, help=what, description=what)
        q.add_argument("location", nargs="?", help="the store (a --state value; default: "
                                                   "--state, else the configured store)")
        q.add_argument("--json", action="store_true", help="machine-readable output")
    q = sub.add_parser("copy", help="copy everything from one store into another",
                       description="copy everything from one store into another, then "
                                   "compare the counts")
    q.add_argument("source", help="the store to copy from (a --state value)")
    q.add_argument("target", help="the store to copy into (a --state value)")
    q.add_argument("--force", action="store_true",
                   help="copy into a target that is not empty (same ids are replaced)")
    q.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.store_command == "copy":
        return _copy(args, out)
    location = args.location or args.state or _configured(args)
    if args.store_command == "migrate":
        return _migrate(location, args, out)
    return _check(location, args, out)


def _configured(args: argparse.Namespace) -> str:
    from .config import load_config
    from .system import _store_url
    return _store_url(load_config(getattr(args, "config", None)))


def _is_postgresql(location: str) -> bool:
    return state_backend(location) == "postgresql"


def _pg_version(location: str) -> int:
    """The applied schema version of a PostgreSQL store, read only (0: none yet)."""
    from occo.infobroker import PostgreSQLStore
    return PostgreSQLStore.applied_schema_version(location)


def _migrate(location: str, args: argparse.Namespace, out: TextIO) -> int:
    before = _pg_version(location) if _is_postgresql(location) else None
    with open_store(location) as store:
        version = getattr(store, "schema_version", None)
        shown = store.url
    if before is None:
        report: dict[str, Any] = {"store": shown, "applied": [],
                                  "note": "this backend lays its schema out when opened"}
        text = f"{shown}: up to date (this backend lays its schema out when it is opened)"
    else:
        # a PostgreSQL store (``before`` is its version) always has a schema version
        assert version is not None
        applied = list(range(before + 1, version + 1))
        report = {"store": shown, "applied": applied, "schema_version": version}
        text = (f"{shown}: applied migration{'s' if len(applied) > 1 else ''} "
                f"{', '.join(map(str, applied))}; schema version {version}" if applied else
                f"{shown}: already at schema version {version}; nothing to apply")
    if args.json:
        print_json(report, out)
    else:
        print(text, file=out)
    return 0


def _check(location: str, args: argparse.Namespace, out: TextIO) -> int:
    if _is_postgresql(location):
        from occo.infobroker import PostgreSQLStore
        LATEST = PostgreSQLStore.LATEST_SCHEMA
        version = _pg_version(location)
        if version < LATEST:
            message = (f"schema version {version}, this OCCO needs {LATEST}: run "
                       f"`occo store migrate`")
            if args.json:
                print_json({"store": location, "ok": False, "problem": message}, out)
            else:
                print(f"store: needs migrating: {message}", file=out)
            return EXIT_FAILED
    damaged: list[DamagedRecord] = []
    with open_store(location) as store:
        verify = getattr(store, "verify", None)
        if verify is not None:
            verify()
        found = _copied_counts(store, store.list_infrastructures(damaged=damaged), damaged)
        shown = store.url
    if args.json:
        print_json({"store": shown, "ok": not damaged, "counts": found,
                    "damaged": [{"kind": d.kind, "key": d.key, "infra_id": d.infra_id,
                                 "reason": d.reason} for d in damaged]}, out)
    else:
        print(f"{shown}: " + (f"{len(damaged)} damaged record(s)" if damaged else "ok"),
              file=out)
        for kind in _KINDS:
            print(f"  {kind.replace('_', ' ')}: {found[kind]}", file=out)
        for d in damaged:
            of = f" of infrastructure {d.infra_id}" if d.infra_id and d.infra_id != d.key else ""
            print(f"  damaged: {d.kind} {d.key}{of}: {d.reason}", file=out)
    return EXIT_FAILED if damaged else 0


def _events(store: Store, infra_id: str, damaged: list[DamagedRecord] | None = None) -> list:
    """Every event of ``infra_id``; with ``damaged``, a damaged one is noted there and
    skipped (else it raises)."""
    events: list = []
    after = 0
    while True:
        try:
            page = store.read_events(infra_id, after=after, limit=_PAGE)
        except DamagedRecord as exc:
            if damaged is None or exc.kind != "event":
                raise
            damaged.append(exc)
            after = int(exc.key.lstrip("#"))
            continue
        events += page
        if page:
            after = page[-1].position
        if len(page) < _PAGE:
            return events


def counts(store: Store) -> dict[str, int]:
    """How many records of each kind ``store`` holds (every one of them decoded)."""
    return _copied_counts(store, store.list_infrastructures())


def copy_store(source: Store, target: Store, *, force: bool = False) -> dict[str, int]:
    """Copy everything of ``source`` into ``target``; returns the counts copied.

    :class:`StoreError` if the target is not empty (without ``force``) or if, afterwards,
    the target's counts of the copied infrastructures differ from the source's."""
    _refuse_the_same_store(source, target)
    infras = source.list_infrastructures()
    present = {rec.infra_id for rec in target.list_infrastructures()}
    if not force and (present or target.list_node_definitions()):
        raise StoreError(f"the target store {target.url} is not empty ({len(present)} "
                         f"infrastructures); nothing was copied. Copy into an empty store, "
                         f"or give --force to copy into it anyway (infrastructures of the "
                         f"same id are replaced)")
    for node_type, impls in source.list_node_definitions().items():
        target.put_node_definition(node_type, impls)
    for rec in infras:
        if rec.infra_id in present:
            target.delete_infrastructure(rec.infra_id)
        target.create_infrastructure(rec)
        infra_id = rec.infra_id
        target.add_instances(source.list_instances(infra_id))
        target.settle_scaling_requests(infra_id, 0, source.get_scaling_targets(infra_id))
        for req in source.peek_scaling_requests(infra_id):
            target.push_scaling_request(req)
        for instance_id, since in source.get_failure_timers(infra_id).items():
            target.start_failure_timer(infra_id, instance_id, since)
        events = _events(source, infra_id)
        for start in range(0, len(events), _PAGE):
            target.append_events(events[start:start + _PAGE])
    wanted, got = _copied_counts(source, infras), _copied_counts(target, infras)
    if wanted != got:
        differ = ", ".join(f"{k}: {wanted[k]} in the source, {got[k]} in the target"
                           for k in _KINDS if wanted[k] != got[k])
        raise StoreError(f"the copy into {target.url} does not match its source ({differ})")
    return wanted


def _refuse_the_same_store(source: Store, target: Store) -> None:
    """:class:`UsageError` if ``source`` and ``target`` are one store under two names
    (a path and its ``sqlite://`` form, a URL with and without its default schema): a
    lease taken in the source is looked for in the target."""
    token = new_id()
    name = f"occo-store-copy:{token}"
    source.acquire_lease(name, token, 60.0)
    try:
        same = target.lease_holder(name) is not None
    finally:
        source.release_lease(name, token)
    if same:
        raise UsageError(f"occo store copy: {source.url} and {target.url} are the same "
                         f"store; nothing was copied")


def _verified(store: Store, records: list, damaged: list[DamagedRecord] | None) -> list:
    """``records``; with ``damaged`` (a check), each field of each is checked too, and
    those with a field of the wrong kind are noted there (and not counted)."""
    if damaged is None:
        return records
    good = []
    for rec in records:
        try:
            store.codec.verify_instance(rec)
        except DamagedRecord as exc:
            damaged.append(exc)
        else:
            good.append(rec)
    return good


def _copied_counts(store: Store, infras: list, damaged: list[DamagedRecord] | None = None
                   ) -> dict[str, int]:
    """How many records of each kind; with ``damaged``, the damaged ones are noted there
    (and not counted) instead of raising."""
    found = dict.fromkeys(_KINDS, 0)

    def count(kind: str, read: Any) -> None:
        try:
            found[kind] += len(read())
        except DamagedRecord as exc:
            if damaged is None:
                raise
            damaged.append(exc)

    count("node_definitions", store.list_node_definitions)
    for rec in infras:
        infra_id = rec.infra_id
        found["infrastructures"] += 1
        count("instances", lambda infra_id=infra_id: _verified(
            store, store.list_instances(infra_id), damaged))
        found["scaling_targets"] += len(store.get_scaling_targets(infra_id))
        count("scaling_requests", lambda infra_id=infra_id: store.peek_scaling_requests(infra_id))
        found["failure_timers"] += len(store.get_failure_timers(infra_id))
        found["events"] += len(_events(store, infra_id, damaged))
    return found


def _copy(args: argparse.Namespace, out: TextIO) -> int:
    if args.source.strip() == args.target.strip():
        raise UsageError(f"occo store copy: the source and the target are the same store "
                         f"({redact_url(args.source)}); nothing was copied")
    with open_store(args.source) as source, open_store(args.target) as target:
        copied = copy_store(source, target, force=args.force)
        shown = (source.url, target.url)
    if args.json:
        print_json({"source": shown[0], "target": shown[1], "copied": copied}, out)
    else:
        print(f"copied {shown[0]} to {shown[1]}; the counts match:", file=out)
        for kind in _KINDS:
            print(f"  {kind.replace('_', ' ')}: {copied[kind]}", file=out)
    return 0
