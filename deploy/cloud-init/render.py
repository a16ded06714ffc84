"""Make the cloud-config ``occo.yaml`` from its template ``occo.yaml.in`` and the systemd
units in ``deploy/systemd``, so that the VM gets the very units that are checked there.

    python3 deploy/cloud-init/render.py           # write occo.yaml beside this script
    python3 deploy/cloud-init/render.py --check   # exit 1 if occo.yaml is not up to date
    python3 deploy/cloud-init/render.py --stdout  # print it instead

In the template a line holding only ``%unit NAME`` (after any indentation) is replaced by
the unit file ``deploy/systemd/NAME``, each line indented as the directive was: put it
under a ``content: |`` key. Every unit must be included exactly once. Standard library
only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "occo.yaml.in"
OUTPUT = HERE / "occo.yaml"
UNITS = HERE.parent / "systemd"
DIRECTIVE = "%unit "
UNIT_SUFFIXES = (".service", ".timer")


class RenderError(Exception):
    """The template names a unit that is not there, or leaves one out, or a unit would
    not come out of the YAML as it is."""


def unit_names(units: Path = UNITS) -> list[str]:
    """The unit files of ``units``, by name."""
    return sorted(p.name for p in units.iterdir() if p.suffix in UNIT_SUFFIXES)


def indented(text: str, indent: str) -> list[str]:
    """``text``'s lines with ``indent`` before each; empty lines stay empty."""
    return [indent + line if line.strip() else "" for line in text.splitlines()]


def render(template: str, units: Path = UNITS) -> str:
    """The cloud-config: ``template`` with each ``%unit NAME`` line replaced by the unit."""
    known = unit_names(units)
    used: list[str] = []
    out: list[str] = []
    for number, line in enumerate(template.splitlines(), start=1):
        stripped = line.lstrip(" ")
        if not stripped.startswith(DIRECTIVE):
            out.append(line)
            continue
        name = stripped[len(DIRECTIVE):].strip()
        if name not in known:
            raise RenderError(f"line {number}: no unit {name!r} in {units} "
                              f"(there are: {', '.join(known)})")
        if name in used:
            raise RenderError(f"line {number}: unit {name!r} is included twice")
        used.append(name)
        text = (units / name).read_text(encoding="utf-8")
        if not text.endswith("\n") or text.endswith("\n\n"):
            # a YAML block scalar ("|") keeps one final newline, no more, no less
            raise RenderError(f"{units / name} must end with exactly one newline")
        out += indented(text, line[:len(line) - len(stripped)])
    missing = [name for name in known if name not in used]
    if missing:
        raise RenderError(f"the template leaves out {', '.join(missing)}: add a "
                          f"'{DIRECTIVE}NAME' line for each")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="exit 1 if occo.yaml differs from what the template gives")
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args(argv)
    try:
        text = render(TEMPLATE.read_text(encoding="utf-8"))
    except RenderError as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 2
    if args.stdout:
        sys.stdout.write(text)
    elif args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else None
        if current != text:
            print(f"render: {OUTPUT} is not up to date: run python3 {Path(__file__).name}",
                  file=sys.stderr)
            return 1
    else:
        OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
