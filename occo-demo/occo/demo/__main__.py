"""``python -m occo.demo [webapp|ping|DIR] [--keep]``: the demo that ``./bootstrap.sh demo``
runs (see occo.demo.runner; its command line is occo.demo.options)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from .console import Console
from .errors import DemoUsageError
from .options import build_parser, parse_args
from .runner import Demo, DemoOptions

__all__ = ["main", "build_parser"]


def _default_dir() -> tuple[Path, bool]:
    """env/demo in an OCCO checkout (where bootstrap.sh runs it), else a temporary
    directory that is removed afterwards."""
    if Path("bootstrap.sh").is_file() and Path("env").is_dir():
        return Path("env") / "demo", False
    return Path(tempfile.mkdtemp(prefix="occo-demo-")), True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
