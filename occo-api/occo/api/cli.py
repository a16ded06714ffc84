"""The ``occo`` command.

Exit status: 0 done, 1 failed, 2 bad input or usage, 130 interrupted (Ctrl-C, SIGTERM).
Every command that reports takes ``--json``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import textwrap
from collections.abc import Callable
from typing import Any

from occo.util import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, OccoError, setup_logging

from . import commands, store_commands
from .about import version_text
from .cli_help import COMMANDS, examples_text
from .interrupts import LeaveAtOnce

__all__ = ["main", "build_parser", "run"]

class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors going to stderr and exit status 2 (its default)."""


#: the largest number an option takes (JSON's exact integers)
MAX_NUMBER = 2 ** 53 - 1


def _integer(minimum: int, maximum: int = MAX_NUMBER, *, signed: bool = False
             ) -> Callable[[str], int]:
    """An argparse type: ASCII digits (an optional sign where ``signed``), in range; else
    argparse's exit 2 naming the option."""
    def parse(raw: str) -> int:
        text = raw.strip()
        body = text[1:] if signed and text[:1] in "+-" else text
        if not (body.isascii() and body.isdigit() and len(body) <= len(str(MAX_NUMBER))) \
                or not minimum <= int(text) <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {minimum} to {maximum}, got {raw[:40]!r}")
        return int(text)
    parse.__name__ = "integer"
    return parse


def _seconds(raw: str) -> float:
    """An argparse type: a finite number of seconds > 0 (at most a day)."""
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not raw.strip().isascii() or not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0 and at most "
                                         f"86400, got {raw[:40]!r}")
    return value


def _common(p: argparse.ArgumentParser, *, json: bool = True) -> None:
    if json:
        p.add_argument("--json", action="store_true", help="machine-readable output")


def _infra(p: argparse.ArgumentParser, required: bool = True, *,
           may_default: bool = True) -> None:
    """``-i``. A command that needs one (``required``) takes the only infrastructure in
    the store when it is not given, and says so, unless ``may_default`` is False."""
    default = required and may_default
    p.add_argument("-i", "--infra-id", required=required and not may_default,
                   help="the infrastructure: its id, its name (if unique in the store) or a "
                        "unique prefix of its id (4 characters or more)"
                        + ("; default: the only one in the store" if default else ""))
    p.set_defaults(needs_infra=default)


def _command(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand with its description paragraph and examples (occo.api.cli_help)."""
    entry = COMMANDS.get(name)
    if entry is not None:
        kwargs.setdefault("description", textwrap.fill(entry[0], width=88))
        kwargs.setdefault("epilog", examples_text(name))
    return sub.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter,
                          **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="occo", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="OCCO builds multi-node infrastructures on clouds from a YAML description "
                    "and keeps them alive.",
        epilog="exit status: 0 ok, 1 failed, 2 bad input or usage, 130 interrupted")
    parser.add_argument("--version", action="version", version=version_text())
    parser.add_argument("--config", help="configuration file (default: ~/.config/occo/occo.yaml"
                                         " if it exists)")
    parser.add_argument("--auth-data", help="credentials file (auth_data.yaml)")
    parser.add_argument("--state", help="state store: a SQLite path, memory://, or redis://...")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(sub, "validate", help="check a description and its node definitions")
    p.add_argument("infra", help="infrastructure description (infra.yaml)")
    p.add_argument("--nodes", action="append", help="node definitions file (repeatable)")
    _common(p)

    p = _command(sub, "import", help="store node definitions for later builds")
    p.add_argument("files", nargs="+", help="node definitions files")
    _common(p)

    p = _command(sub, "plan", help="show what build or maintain would do, touching no cloud")
    p.add_argument("infra", nargs="?", help="infrastructure description")
    p.add_argument("--nodes", action="append", help="node definitions file (repeatable)")
    _infra(p, required=False)
    _common(p)

    p = _command(sub, "build", help="build (or continue building) an infrastructure")
    p.add_argument("infra", nargs="?",
                   help="infrastructure description (infra.yaml); none with --rollback")
    p.add_argument("--nodes", action="append", help="node definitions file (repeatable)")
    _infra(p, required=False)
    p.add_argument("--keep-on-failure", action="store_true",
                   help="keep what is ready when the build fails (default: roll back)")
    p.add_argument("--rollback", action="store_true",
                   help="build the definition the last change replaced (with -i)")
    p.add_argument("--auto-rollback", action="store_true", default=None,
                   help="if replacing changed instances fails, return to the previous "
                        "definition at once (default: rollout.auto_rollback, false)")
    _common(p)

    p = _command(sub, "maintain", help="heal and scale: one pass, or passes at an interval")
    _infra(p, required=False)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one pass, then exit (default)")
    mode.add_argument("--interval", type=_seconds,
                      help="seconds between passes; run until stopped")
    p.add_argument("--clean-orphans", action="store_true",
                   help="drop resources with the infrastructure's tags that the store does "
                        "not know (reported either way)")
    _common(p)

    p = _command(sub, "scale", help="scale a node: queue a request and apply it")
    _infra(p)
    p.add_argument("-n", "--node", required=True, help="node name")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("-c", "--change", type=_integer(-MAX_NUMBER, signed=True),
                     help="+N or -N instances")
    how.add_argument("-s", "--to", type=_integer(0), help="exactly N instances")
    how.add_argument("-f", "--remove", help="remove this instance (id or address)")
    p.add_argument("--queue-only", action="store_true",
                   help="only queue the request for the next maintenance pass")
    _common(p)

    p = _command(sub, "destroy", help="drop every node of an infrastructure and forget it")
    _infra(p, may_default=False)   # never by default: it must be named
    _common(p)

    p = _command(sub, "status", help="nodes, instances, states, addresses and scaling")
    _infra(p)
    p.add_argument("--refresh", action="store_true",
                   help="ask the clouds and health checks now instead of showing the stored "
                        "states (nothing is healed or changed)")
    _common(p)

    p = _command(sub, "graph", help="the dependency graph with each node's instance counts "
                                    "per state (DOT, SVG or PNG)")
    _infra(p)
    p.add_argument("--format", choices=["dot", "svg", "png"],
                   help="what to write (svg and png need Graphviz's dot); default: the "
                        "suffix of the -o file (.dot/.gv, .svg, .png), else dot")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (default: standard output; png needs a file when "
                        "that is a terminal)")
    _common(p)

    p = _command(sub, "list", help="the infrastructures in the store")
    _common(p)

    p = _command(sub, "events", help="an infrastructure's event log")
    _infra(p)
    p.add_argument("--after", type=_integer(0), default=0,
                   help="only events after this position")
    p.add_argument("--limit", type=_integer(1, 10_000), default=1000,
                   help="at most this many events (1 to 10000)")
    _common(p)

    p = _command(sub, "serve", help="run the REST service (and maintain attached infrastructures)")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_integer(0, 65535), help="port (default 5000)")
    p.add_argument("--scaling-host", help="also serve only the scale paths, to nodes with "
                   "their infrastructure's scaling secret, on this address (rest.scaling_host)")
    p.add_argument("--scaling-port", type=_integer(0, 65535),
                   help="the port of that listener (default 5001; rest.scaling_port)")

    p = _command(sub, "worker", help="run one endpoint's worker (amqp transport)")
    p.add_argument("endpoint", choices=["cloudhandler", "servicecomposer", "infraprocessor"])

    p = _command(sub, "config", help="configuration")
    p.add_argument("action", choices=["show"], help="show: the effective configuration")
    _common(p)

    _command(sub, "version", help="the versions of OCCO's packages")
    store_commands.add_parser(_command(sub, "store", help="migrate, check or copy the store"))
    return parser


def run(args: argparse.Namespace, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    handler: Callable[..., int] = (getattr(args, "handler", None)
                                   or getattr(commands, f"cmd_{args.command}"))
    return handler(args, out, err)


def _tune_gc() -> None:
    """Fewer collections of the young generation, and none of what importing built: a
    build allocates millions of short-lived objects, few of them in cycles, and the
    collector's default pace spent a quarter of a 1,000-node build's CPU (measured with
    tools/bench/bench_default_path.py)."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def main(argv: list[str] | None = None) -> int:
    _tune_gc()
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    log_handler = setup_logging(level, json_lines=getattr(args, "json", False),
                                command="occo")
    try:
        return run(args)
    except OccoError as exc:
        message = str(exc)
        if getattr(args, "json", False):
            from .render import print_json
            print_json({"error": exc.to_dict(), "exit_code": exc.exit_code}, sys.stderr)
        else:
            print(f"occo: error: {message}", file=sys.stderr)
        return exc.exit_code if exc.exit_code in (EXIT_FAILED, EXIT_BAD_INPUT) else EXIT_FAILED
    except LeaveAtOnce:
        # the work in flight (a cloud call, a drop waiting out a grace period) is left:
        # the process ends now instead of waiting for its threads
        print("occo: interrupted twice: left at once", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        print("occo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        logging.getLogger("occo").removeHandler(log_handler)


if __name__ == "__main__":
    sys.exit(main())
