"""What each ``occo`` subcommand does (argument parsing is in cli.py)."""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import replace

from occo.util import EXIT_INTERRUPTED

from .about import version_text
from .build_gate import BuildGate
from .config import load_config
from .core import Occo
from .errors import UsageError
from .interrupts import run_interruptible
from .notices import notice
from .render import Progress, plan_text, print_json, status_table, table


def _open(args: argparse.Namespace) -> Occo:
    """The Occo of the command's configuration; ``-i`` is resolved to an id first (a
    name or an id prefix is accepted, see :meth:`Occo.resolve_infra`)."""
    config = load_config(getattr(args, "config", None), state=getattr(args, "state", None))
    occo = Occo(config, auth_data=getattr(args, "auth_data", None))
    try:
        if getattr(args, "infra_id", None):
            args.infra_id = occo.resolve_infra(args.infra_id)
        elif getattr(args, "needs_infra", False):
            args.infra_id = _the_only_infra(occo, args)
    except BaseException:
        occo.close()
        raise
    return occo


def _the_only_infra(occo: Occo, args: argparse.Namespace) -> str:
    """The infrastructure of a command given no ``-i``: the store's only one (said on
    stderr), else a usage error listing them."""
    damaged: list = []
    records = occo.readable_infrastructures(damaged)
    if len(records) == 1 and not damaged:
        notice(sys.stderr, "note", f"using infrastructure {records[0].name} "
                                   f"({records[0].infra_id}), the only one in the store")
        return records[0].infra_id
    known = ", ".join(f"{r.name} ({r.infra_id[:8]})" for r in records)
    raise UsageError(f"occo {args.command} needs -i INFRA (an id, a unique name or a "
                     f"unique id prefix): the store holds "
                     + (f"{len(records)} infrastructures: {known}" if records else
                        "no infrastructure")
                     + (f", and {len(damaged)} that cannot be read (damaged: "
                        f"{', '.join(d.key for d in damaged)})" if damaged else ""))


def cmd_version(args, out, err) -> int:
    out.write(version_text() + "\n")
    return 0


def cmd_validate(args, out, err) -> int:
    with _open(args) as occo:
        description = occo.validate(args.infra, args.nodes)
    if args.json:
        print_json({"ok": True, "summary": description.summary(),
                    "warnings": list(description.warnings)}, out)
    else:
        out.write(f"OK {description.summary()}\n")
        for warning in description.warnings:
            notice(err, "warning", str(warning))
    return 0


def cmd_import(args, out, err) -> int:
    with _open(args) as occo:
        imported = occo.import_node_definitions(args.files)
    if args.json:
        print_json({"imported": imported}, out)
    else:
        out.write(f"imported {len(imported)} node type(s): "
                  + ", ".join(f"{t} ({n} implementation{'s' if n != 1 else ''})"
                              for t, n in sorted(imported.items())) + "\n")
    return 0


def cmd_plan(args, out, err) -> int:
    if not args.infra and not args.infra_id:
        raise UsageError("plan needs a description file or -i INFRA_ID")
    with _open(args) as occo:
        plan = occo.plan(args.infra, args.nodes, infra_id=args.infra_id)
    if args.json:
        print_json(plan, out)
        return 0
    out.write(plan_text(plan))
    for event in plan["events"]:
        if event.get("message"):
            notice(err, "warning", event["message"])
    return 0


def cmd_build(args, out, err) -> int:
    if args.rollback and (args.infra or args.nodes):
        raise UsageError("occo build --rollback builds the stored previous definition: give "
                         "-i INFRA and no description file")
    if args.rollback and not args.infra_id:
        raise UsageError("occo build --rollback needs -i INFRA (an id, a unique name or a "
                         "unique id prefix)")
    if not args.rollback and not args.infra:
        raise UsageError("occo build needs a description file (infra.yaml), or --rollback "
                         "-i INFRA")
    with _open(args) as occo:
        progress = Progress(occo.store, err if args.json else out)
        started: dict[str, str] = {}

        def registered(record) -> None:
            started["infra_id"] = record.infra_id
            if not args.json:
                out.write(f"building {record.name} ({record.infra_id})\n")
                out.flush()
            progress.follow(record.infra_id)

        gate = BuildGate()

        def cancel() -> bool:
            """Nothing created yet: leave now (the gate keeps the build from going on);
            else the processor rolls back what is in flight."""
            if gate.stop():
                if "infra_id" in started:
                    occo.stopped_before_execute(started["infra_id"], gate.before)
                return True
            occo.cancel(started["infra_id"])
            return False

        try:
            if args.rollback:
                def run():
                    return occo.rollback(args.infra_id, keep_on_failure=args.keep_on_failure,
                                         on_registered=registered, gate=gate)
            else:
                def run():
                    return occo.build(args.infra, args.nodes, infra_id=args.infra_id,
                                      keep_on_failure=args.keep_on_failure,
                                      on_registered=registered, gate=gate,
                                      auto_rollback=args.auto_rollback)
            result, interrupted = run_interruptible(run, cancel, err)
        except KeyboardInterrupt:   # the second Ctrl-C: leave now, but say so in the store
            if "infra_id" in started:
                occo.left_at_once(started["infra_id"])
            raise
        finally:
            progress.stop()
        if result is None or result["infra_id"] is None:
            err.write("interrupted before anything was created"
                      + (f": {started['infra_id']} is as it was\n" if "infra_id" in started
                         else " or stored\n"))
            return EXIT_INTERRUPTED
        status = occo.status(result["infra_id"]) if result["status"] != "destroyed" else None
    if args.json:
        print_json({"result": result, "status": status}, out)
    else:
        if status:
            out.write(status_table(status) + "\n")
        for failure in result.get("failures", []):
            out.write(f"failed: {failure['node']}: {failure['reason']}\n")
        out.write(f"infrastructure id: {result['infra_id']} ({result['status']})\n")
    for warning in result.get("warnings", []):
        notice(err, "warning", warning)
    back = result.get("rolled_back")
    if back:
        notice(err, "note", f"the rollout failed and was rolled back to the previous "
                            f"definition: {back['status']}"
                            + (f", {back['outdated']} instance(s) still outdated"
                               if back.get("outdated") else ""))
    if interrupted:
        return EXIT_INTERRUPTED
    return 0 if result["status"] == "ready" else 1


def cmd_maintain(args, out, err) -> int:
    with _open(args) as occo:
        if args.interval is None:
            outcomes = occo.maintain(args.infra_id, once=True,
                                     clean_orphans=args.clean_orphans)
            if args.json:
                print_json(outcomes, out)
            else:
                for o in outcomes:
                    out.write(f"{o['infra_id']}: {o['status']} (created {o['created']}, "
                              f"dropped {o['dropped']}, healed {o.get('healed', 0)})\n")
            return 0 if all(o["status"] in ("ready", "unchanged") for o in outcomes) else 1
        occo.system.enactor.config = replace(occo.system.enactor.config,
                                             interval=args.interval)
        stop = threading.Event()
        out.write(f"maintaining {args.infra_id or 'attached infrastructures'} every "
                  f"{args.interval:g} s; Ctrl-C to stop\n")
        out.flush()
        _, interrupted = run_interruptible(lambda: occo.maintain(args.infra_id, once=False,
                                                              stop=stop), stop.set, err)
    return EXIT_INTERRUPTED if interrupted else 0


def cmd_scale(args, out, err) -> int:
    with _open(args) as occo:
        result = occo.scale(args.infra_id, args.node, change=args.change, to=args.to,
                            remove=args.remove, apply=not args.queue_only)
    if args.json:
        print_json(result, out)
    else:
        for warning in result["warnings"]:
            notice(err, "warning", warning)
        for note in result.get("notes", ()):
            notice(err, "note", note)
        if result["applied"]:
            o = result["outcome"]
            out.write(f"{args.node}: target {result.get('target')}; {o['status']} "
                      f"(created {o['created']}, dropped {o['dropped']})\n")
        else:
            out.write(f"{args.node}: request queued for the next maintenance pass\n")
    if result["applied"] and result["outcome"]["status"] not in ("ready", "unchanged"):
        return 1
    return 0


def cmd_destroy(args, out, err) -> int:
    with _open(args) as occo:
        result, interrupted = run_interruptible(lambda: occo.destroy(args.infra_id),
                                             lambda: None, err)
    if args.json:
        print_json(result, out)
    else:
        out.write(f"{result['name']} ({args.infra_id}): {result['status']}, "
                  f"{result['dropped']} node(s) dropped\n")
        for failure in result.get("drop_failures", []):
            out.write(f"drop failed: {failure['node']} {failure['instance_id']}: "
                      f"{failure['reason']}\n")
    if interrupted:
        return EXIT_INTERRUPTED
    return 0 if result["status"] == "destroyed" else 1


def cmd_status(args, out, err) -> int:
    with _open(args) as occo:
        status = occo.status(args.infra_id, refresh=args.refresh)
        # printed before closing: closing waits for a cloud call a refresh gave up on
        if args.json:
            print_json(status, out)
        else:
            out.write(status_table(status) + "\n")
        out.flush()
    return 0


def cmd_graph(args, out, err) -> int:
    import json

    from occo.compiler import StaticDescription
    from occo.util import OccoError

    from .graph import graph_data, output_format, render, to_dot
    if args.json and args.format in ("svg", "png"):
        raise UsageError(f"--json writes the graph as JSON; it cannot be --format {args.format}")
    fmt = "json" if args.json else output_format(args.format, args.output)
    binary_out = getattr(out, "buffer", None)
    if fmt == "png" and not args.output and (binary_out is None or out.isatty()):
        raise UsageError("a PNG is not for a terminal: give -o FILE (e.g. -o graph.png)")
    with _open(args) as occo:
        status = occo.status(args.infra_id)
        stored = StaticDescription.from_dict(
            occo.store.get_infrastructure(args.infra_id).description)
    data = graph_data(status, [(e.dependent, e.dependency) for e in stored.edges])
    if fmt == "json":
        payload = (json.dumps(data, indent=2) + "\n").encode("utf-8")
    else:
        payload = render(to_dot(data), fmt)
    if args.output:
        try:
            with open(args.output, "wb") as stream:
                stream.write(payload)
        except OSError as exc:
            raise OccoError(f"cannot write the graph to {args.output}: "
                            f"{exc.strerror or exc}") from exc
    elif fmt == "png":
        assert binary_out is not None  # refused above: a PNG to an out without a buffer
        out.flush()
        binary_out.write(payload)
        binary_out.flush()
    else:
        out.write(payload.decode("utf-8"))
    return 0


def cmd_list(args, out, err) -> int:
    with _open(args) as occo:
        items = occo.list()
    if args.json:
        print_json(items, out)
    elif not items:
        out.write("no infrastructures\n")
    else:
        out.write(table([[i["infra_id"], i["name"] or "?", i["status"],
                          "?" if i["instances"] is None else f"{i['ready']}/{i['instances']}",
                          "?" if i["maintained"] is None else "yes" if i["maintained"] else "no"]
                         for i in items],
                        ["INFRA ID", "NAME", "STATUS", "READY", "MAINTAINED"]) + "\n")
    for i in items:
        if i["damaged"]:
            notice(err, "warning", i["damaged"])
    return 0


def cmd_events(args, out, err) -> int:
    with _open(args) as occo:
        events = occo.events(args.infra_id, after=args.after, limit=args.limit)
    if args.json:
        print_json(events, out)
    else:
        import datetime
        for e in events:
            when = datetime.datetime.fromtimestamp(e["time"]).strftime("%H:%M:%S")
            who = " ".join(x for x in (e["node_name"], (e["instance_id"] or "")[:8]) if x)
            details = ", ".join(f"{k}={v}" for k, v in e["details"].items() if v not in
                                (None, [], {}))
            out.write(f"{e['position']:5d} {when} {e['type']:18s} {who} {details}".rstrip()
                      + "\n")
    return 0


def cmd_config(args, out, err) -> int:
    config = load_config(args.config, state=args.state)
    shown = config.show()
    if args.json:
        print_json(shown, out)
    else:
        import yaml
        out.write(f"# effective configuration (file: {config.source or 'none, defaults'})\n")
        out.write(yaml.safe_dump(shown, sort_keys=False))
    return 0


def cmd_serve(args, out, err) -> int:
    from .rest import serve
    config = load_config(args.config, state=args.state)
    return serve(config, auth_data=args.auth_data, host=args.host, port=args.port, out=out,
                 scaling_host=args.scaling_host, scaling_port=args.scaling_port)


def cmd_worker(args, out, err) -> int:
    from .worker import run_worker
    config = load_config(args.config, state=args.state)
    return run_worker(config, args.endpoint, auth_data=args.auth_data, out=out)
