"""``python -m occo.demo [webapp|ping|DIR] [--keep]``: the demo that ``./bootstrap.sh demo``
runs (see occo.demo.runner)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from .console import Console
from .errors import DemoUsageError
from .runner import Demo, DemoOptions
from .workspace import EXAMPLES

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m occo.demo",
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


def _default_dir() -> tuple[Path, bool]:
    """env/demo in an OCCO checkout (where bootstrap.sh runs it), else a temporary
    directory that is removed afterwards."""
    if Path("bootstrap.sh").is_file() and Path("env").is_dir():
        return Path("env") / "demo", False
    return Path(tempfile.mkdtemp(prefix="occo-demo-")), True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 2 <= args.scale_to <= 6:
        parser.error(f"--scale-to must be between 2 and 6 (web's min and max), got "
                     f"{args.scale_to}")
    if args.requests < 1:
        parser.error(f"--requests must be at least 1, got {args.requests}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    workdir, temporary = (args.dir, False) if args.dir else _default_dir()
    try:
        demo = Demo(DemoOptions(example=args.example, workdir=workdir, keep=args.keep,
                                scale_to=args.scale_to, requests=args.requests,
                                timeout=args.timeout), Console(sys.stdout))
        code = demo.run()
    except DemoUsageError as exc:
        print(f"python -m occo.demo: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    if temporary and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
