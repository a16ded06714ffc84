"""The Occopus-compatible commands: ``occopus-build``, ``occopus-destroy``,
``occopus-maintain``, ``occopus-scale``, ``occopus-import``, ``occopus-rest-service``.

They take Occopus's options and call the same :class:`~occo.api.Occo` methods as ``occo``.
What scripts parse stays where Occopus put it: ``occopus-build`` prints the infrastructure
id alone on stdout (progress and the node list go to stderr), ``occopus-maintain -l`` the
ids one per line, ``occopus-import`` "Successfully imported nodes: ...". Options that no
longer matter (``--parallelize``: OCCO always works in parallel) are accepted with a note
on stderr. ``--cfg`` takes OCCO's ``occo.yaml`` or Occopus's ``occopus_config.yaml`` (see
:mod:`occo.api.occopus_config`). Exit status: 0 done, 1 failed, 2 bad input or usage,
130 interrupted. See docs/occopus-commands.rst.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import yaml

from occo.util import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, OccoError, setup_logging

from .core import Occo
from .errors import UsageError
from .interrupts import run_interruptible
from .occopus_config import load_cfg
from .render import Progress
from .rest_state import (
    check_node,
    description_of,
    import_definitions,
    occopus_status,
    queue_scaling,
)

__all__ = ["build_main", "destroy_main", "maintain_main", "scale_main", "import_main",
           "rest_service_main", "PROGRAMS"]


def _parser(prog: str, description: str, *, auth: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--cfg", "--config", dest="cfg_path", metavar="CFG_PATH",
                        help="OCCO's occo.yaml or Occopus's occopus_config.yaml (default: "
                             "~/.config/occo/occo.yaml if it exists)")
    if auth:
        parser.add_argument("--auth_data_path", "--auth-data", dest="auth_data_path",
                            metavar="AUTH_DATA_PATH",
                            help="credentials file (default: ~/.config/occo/auth_data.yaml)")
    return parser


def _parallelize(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parallelize", action="store_true",
                        help="accepted for Occopus compatibility: OCCO always runs "
                             "independent nodes in parallel")


def _open(args: argparse.Namespace, err: TextIO) -> Occo:
    if getattr(args, "parallelize", False):
        err.write("note: --parallelize is not needed: OCCO always creates independent "
                  "nodes in parallel\n")
    config, warnings = load_cfg(args.cfg_path)
    for warning in warnings:
        err.write(f"warning: {warning}\n")
    return Occo(config, auth_data=getattr(args, "auth_data_path", None))


def _node_lines(status: dict[str, Any], only: str | None = None) -> list[str]:
    """Occopus's report: each node, then ``  address (instance id)`` per instance."""
    lines = []
    for name, entry in occopus_status(status).items():
        if only and name != only:
            continue
        lines.append(f"{name}:")
        for instance_id, inst in entry["instances"].items():
            lines.append(f"  {inst['resource_address'] or '-'} ({instance_id})")
    return lines


# ---------------------------------------------------------------------- commands

def _build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with _open(args, err) as occo:
        progress = Progress(occo.store, err, tty=False)
        started: dict[str, str] = {}

        def registered(record: Any) -> None:
            started["infra_id"] = record.infra_id
            err.write(f"Submitted infrastructure: {record.infra_id} ({record.name})\n")
            err.flush()
            progress.follow(record.infra_id)

        def cancel() -> None:
            if "infra_id" in started:
                occo.cancel(started["infra_id"])

        try:
            result, interrupted = run_interruptible(
                lambda: occo.build(args.infra_def, infra_id=args.infra_id,
                                   on_registered=registered), cancel, err)
        finally:
            progress.stop()
        infra_id = result["infra_id"]
        if result["status"] != "ready" or interrupted:
            for failure in result.get("failures", []):
                err.write(f"failed: {failure['node']}: {failure['reason']}\n")
            err.write(f"occopus-build: infrastructure {infra_id} {result['status']}"
                      + (" (interrupted)" if interrupted else "") + "\n")
            return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
        err.write("List of nodes/ip addresses:\n")
        err.write("".join(line + "\n" for line in _node_lines(occo.status(infra_id))))
    out.write(f"{infra_id}\n")
    return 0


def _destroy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with _open(args, err) as occo:
        result, interrupted = run_interruptible(lambda: occo.destroy(args.infra_id),
                                             lambda: None, err)
    for failure in result.get("drop_failures", []):
        err.write(f"drop failed: {failure['node']} {failure['instance_id']}: "
                  f"{failure['reason']}\n")
    err.write(f"{result['name']} ({args.infra_id}): {result['status']}, "
              f"{result['dropped']} node(s) dropped\n")
    if interrupted:
        return EXIT_INTERRUPTED
    return 0 if result["status"] == "destroyed" else EXIT_FAILED


def _report(occo: Occo, args: argparse.Namespace, out: TextIO) -> int:
    status = occo.status(args.infra_id)
    if args.filter:
        check_node(description_of(occo, args.infra_id), args.infra_id, args.filter)
    out.write(f"Report of infrastructure {args.infra_id} ({status['name']}): "
              f"{status['status']}, {status['ready']}/{status['instances']} instances ready\n")
    out.write("".join(line + "\n" for line in _node_lines(status, args.filter)))
    if args.output:
        shape = {name: {"instances": {i: {"resource_address": inst["resource_address"],
                                          "state": inst["state"]}
                                      for i, inst in entry["instances"].items()},
                        "scaling": entry["scaling"]}
                 for name, entry in occopus_status(status).items()
                 if not args.filter or name == args.filter}
        target = Path(args.output)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temp.write_text(yaml.safe_dump(shape, default_flow_style=False), encoding="utf-8")
        temp.replace(target)
        out.write(f"report written to {target}\n")
    return 0


def _maintain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if (args.output or args.filter) and not args.report:
        raise UsageError("-o/--output and -f/--filter go with -r/--report")
    if args.interval is not None and not args.cyclic:
        raise UsageError("-t/--interval goes with -c/--cyclic")
    if not args.list and not args.infra_id:
        raise UsageError("give -i INFRA_ID (or -l to list the infrastructures)")
    with _open(args, err) as occo:
        if args.list:
            items = occo.list()
            if not items:
                err.write("No active infrastructure!\n")
            else:
                err.write("List of active infrastructure:\n")
            out.write("".join(f"{i['infra_id']}\n" for i in items))
            if not args.infra_id:
                return 0
        if args.report:
            return _report(occo, args, out)
        if not args.cyclic:
            outcome = occo.maintain(args.infra_id, once=True)[0]
            err.write(f"{args.infra_id}: {outcome['status']} (created {outcome['created']}, "
                      f"dropped {outcome['dropped']}, replaced {outcome['replaced']})\n")
            return 0 if outcome["status"] in ("ready", "unchanged") else EXIT_FAILED
        interval = 10.0 if args.interval is None else args.interval
        occo.system.enactor.config = replace(occo.system.enactor.config, interval=interval)
        stop = threading.Event()
        err.write(f"maintaining {args.infra_id} every {interval:g} s; Ctrl-C to stop\n")
        err.flush()
        _, interrupted = run_interruptible(lambda: occo.maintain(args.infra_id, once=False,
                                                              stop=stop), stop.set, err)
    return EXIT_INTERRUPTED if interrupted else 0


def _scale(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with _open(args, err) as occo:
        result = queue_scaling(occo, args.infra_id, args.node, change=args.changescale,
                               to=args.setscale, remove=args.filter).commit()
    for warning in result["warnings"]:
        err.write(f"warning: {warning}\n")
    if args.filter:
        what = f"remove {args.filter}"
    elif args.setscale is not None:
        what = f"scale to {args.setscale}"
    else:
        what = f"{args.changescale:+d}"
    out.write(f"{args.node}: {what} queued; target {result['target']} after the next "
              "maintenance pass\n")
    return 0


def _import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with _open(args, err) as occo:
        imported = import_definitions(occo, args.datafile)
    out.write("Successfully imported nodes: " + ", ".join(sorted(imported)) + "\n")
    return 0


def _rest_service(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .rest import serve
    if args.parallelize:
        err.write("note: --parallelize is not needed: OCCO always creates independent "
                  "nodes in parallel\n")
    config, warnings = load_cfg(args.cfg_path)
    for warning in warnings:
        err.write(f"warning: {warning}\n")
    if args.scaling_port is not None and not args.scaling_host:
        raise UsageError("--scaling-port goes with --scaling-host")
    return serve(config, auth_data=args.auth_data_path, host=args.host, port=args.port,
                 out=out, scaling_host=args.scaling_host, scaling_port=args.scaling_port)


# ---------------------------------------------------------------------- parsers

def _build_parser() -> argparse.ArgumentParser:
    p = _parser("occopus-build", "Build an infrastructure from its description; prints the "
                "infrastructure id on stdout. A failed or interrupted build is rolled back.")
    p.add_argument("infra_def", help="infrastructure description file")
    _parallelize(p)
    p.add_argument("-i", "--infra_id", "--infra-id", dest="infra_id", metavar="INFRA_ID",
                   help="rebuild this existing infrastructure from the description")
    return p


def _destroy_parser() -> argparse.ArgumentParser:
    p = _parser("occopus-destroy", "Destroy an infrastructure: drop all of its nodes.")
    p.add_argument("-i", "--infra_id", "--infra-id", dest="infra_id", required=True,
                   metavar="INFRA_ID", help="the infrastructure to destroy")
    return p


def _maintain_parser() -> argparse.ArgumentParser:
    p = _parser("occopus-maintain", "Maintain an infrastructure (heal, scale): one pass, or "
                "continuously with -c; list (-l) or report on (-r) infrastructures.")
    _parallelize(p)
    p.add_argument("-i", "--infra_id", "--infraid", dest="infra_id", metavar="INFRA_ID",
                   help="the infrastructure to maintain or report on")
    p.add_argument("-l", "--list", action="store_true", help="list the infrastructures")
    p.add_argument("-r", "--report", action="store_true",
                   help="report the nodes and addresses of the infrastructure")
    p.add_argument("-o", "--output", metavar="OUTPUT",
                   help="with -r: also write the report to this YAML file")
    p.add_argument("-f", "--filter", metavar="NODE", help="with -r: only this node")
    p.add_argument("-c", "--cyclic", action="store_true",
                   help="maintain continuously, until Ctrl-C or SIGTERM")
    p.add_argument("-t", "--interval", type=float, metavar="INTERVAL",
                   help="with -c: seconds between maintenance passes (default 10)")
    return p


def _scale_parser() -> argparse.ArgumentParser:
    p = _parser("occopus-scale", "Queue a scaling request for a node; the next maintenance "
                "pass carries it out, with the count clamped to the node's [min, max].")
    p.add_argument("-i", "--infra_id", "--infraid", dest="infra_id", required=True,
                   metavar="INFRA_ID", help="the infrastructure")
    p.add_argument("-n", "--node", required=True, help="the node to scale")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("-c", "--changescale", type=int, metavar="CHANGESCALE",
                     help="+N to add N instances, -N to remove N (the youngest first)")
    how.add_argument("-s", "--setscale", type=int, metavar="SETSCALE",
                     help="scale to exactly this many instances")
    how.add_argument("-f", "--filter", metavar="FILTER",
                     help="remove the instance with this id or address")
    return p


def _import_parser() -> argparse.ArgumentParser:
    p = _parser("occopus-import", "Check node definitions and store them for later builds.",
                auth=False)
    p.add_argument("datafile", nargs="+", help="node definition file(s)")
    return p


def _rest_parser() -> argparse.ArgumentParser:
    p = _parser("occopus-rest-service", "Run the REST service; it also maintains the "
                "attached infrastructures.")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 5000)")
    p.add_argument("--scaling-host", dest="scaling_host", metavar="HOST",
                   help="also serve the scale paths alone, authorised only by each "
                        "infrastructure's scaling secret, on this address (the one the "
                        "nodes reach); the rest of the API stays on --host")
    p.add_argument("--scaling-port", dest="scaling_port", type=int, metavar="PORT",
                   help="port of the scale paths' listener (default 5001)")
    _parallelize(p)
    return p


PROGRAMS: dict[str, tuple[Callable[[], argparse.ArgumentParser], Callable[..., int]]] = {
    "occopus-build": (_build_parser, _build),
    "occopus-destroy": (_destroy_parser, _destroy),
    "occopus-maintain": (_maintain_parser, _maintain),
    "occopus-scale": (_scale_parser, _scale),
    "occopus-import": (_import_parser, _import),
    "occopus-rest-service": (_rest_parser, _rest_service),
}


def run(prog: str, argv: Sequence[str] | None = None, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Run ``prog`` with ``argv``; the exit status (usage errors exit 2 from argparse)."""
    out = out or sys.stdout
    err = err or sys.stderr
    make_parser, command = PROGRAMS[prog]
    parser = make_parser()
    args = parser.parse_args(argv)
    handler = setup_logging(logging.WARNING)
    try:
        return command(args, out, err)
    except UsageError as exc:
        parser.print_usage(err)
        err.write(f"{prog}: error: {exc.message}\n")
        return EXIT_BAD_INPUT
    except OccoError as exc:
        err.write(f"{prog}: error: {exc}\n")
        return exc.exit_code if exc.exit_code in (EXIT_FAILED, EXIT_BAD_INPUT) else EXIT_FAILED
    except KeyboardInterrupt:
        err.write(f"{prog}: interrupted\n")
        return EXIT_INTERRUPTED
    finally:
        logging.getLogger("occo").removeHandler(handler)


def build_main(argv: Sequence[str] | None = None) -> int:
    return run("occopus-build", argv)


def destroy_main(argv: Sequence[str] | None = None) -> int:
    return run("occopus-destroy", argv)


def maintain_main(argv: Sequence[str] | None = None) -> int:
    return run("occopus-maintain", argv)


def scale_main(argv: Sequence[str] | None = None) -> int:
    return run("occopus-scale", argv)


def import_main(argv: Sequence[str] | None = None) -> int:
    return run("occopus-import", argv)


def rest_service_main(argv: Sequence[str] | None = None) -> int:
    return run("occopus-rest-service", argv)
