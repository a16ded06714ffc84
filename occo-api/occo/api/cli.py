"""The ``occo`` command."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

from .version import __version__

__all__ = ["main", "build_parser"]

OCCO_DISTRIBUTIONS = ("occo-util", "occo-compiler", "occo-infobroker", "occo-enactor",
                      "occo-infraprocessor", "occo-cloudhandler", "occo-servicecomposer",
                      "occo-api")


def _version_text() -> str:
    lines = [f"occo {__version__}"]
    for dist in OCCO_DISTRIBUTIONS:
        try:
            lines.append(f"  {dist} {version(dist)}")
        except PackageNotFoundError:
            lines.append(f"  {dist} (not installed)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="occo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="OCCO builds multi-node infrastructures on clouds from a YAML description "
                    "and keeps them alive.")
    parser.add_argument("--version", action="version", version=_version_text())
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
