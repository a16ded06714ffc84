"""The demo's command line, with the standard library alone, so that ``./bootstrap.sh demo
--help`` (and a usage error) answers at once, before ``env/dev`` exists: bootstrap.sh runs
:func:`preflight` from the source tree with ``python -I -S``, then makes env/dev, then
runs ``python -m occo.demo`` (``__main__``), which parses with the same parser."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["EXAMPLES", "HELP_SHOWN", "build_parser", "parse_args", "preflight"]

EXAMPLES = ("webapp", "ping")
HELP_SHOWN = 3   # preflight's status when it printed the help: there is nothing to run


def build_parser(prog: str = "python -m occo.demo") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build an example infrastructure on the local cloud (every node a process "
                    "on this machine), show it working, heal a killed node, scale it, and "
                    "destroy it.",
        epilog="exit status: 0 every step done, 1 a step failed, 2 bad usage, 130 interrupted")
    parser.add_argument("example", nargs="?", default="webapp",
                        help=f"{' or '.join(EXAMPLES)} (default webapp), or a directory with "
                             "an infra.yaml (built, shown and destroyed)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the infrastructure at the end (default: destroy it)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="the demo's directory for its state and nodes (default: env/demo "
                             "in an OCCO checkout, else a temporary directory)")
    parser.add_argument("--scale-to", type=int, default=4, metavar="N",
                        help="webapp: scale the web nodes to N (2..6, default 4)")
    parser.add_argument("--requests", type=int, default=6, metavar="N",
                        help="webapp: requests sent through the load balancer each time "
                             "(default 6)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="longest wait for one step (default 60)")
    return parser


def parse_args(argv: list[str] | None = None,
               prog: str = "python -m occo.demo") -> argparse.Namespace:
    """The arguments, checked; a usage error exits with status 2 (argparse's)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not 2 <= args.scale_to <= 6:
        parser.error(f"--scale-to must be between 2 and 6 (web's min and max), got "
                     f"{args.scale_to}")
    if args.requests < 1:
        parser.error(f"--requests must be at least 1, got {args.requests}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    return args


def preflight(argv: list[str], prog: str = "./bootstrap.sh demo") -> int:
    """0 when the demo should run with ``argv``; :data:`HELP_SHOWN` after printing the
    help; 2 after a usage error (printed to stderr)."""
    try:
        parse_args(argv, prog)
    except SystemExit as exc:
        return HELP_SHOWN if exc.code in (0, None) else int(exc.code)
    return 0
