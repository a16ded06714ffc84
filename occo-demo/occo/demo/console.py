"""How the demo talks to the person watching: numbered steps, the exact ``occo`` commands
it runs (so they can be copied), indented output, and a closing summary."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from typing import TextIO

__all__ = ["Console", "shown_path"]


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as the user would type it: relative to the current directory when inside
    it."""
    absolute = Path(path).absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


class Console:
    """Writes the demo's narration to ``out`` (bold step titles on a terminal)."""

    def __init__(self, out: TextIO | None = None, *, steps: int = 0) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty() and os.environ.get("TERM") != "dumb"
        self.steps = steps
        self.step_no = 0
        self.started = time.monotonic()
        self.timings: list[tuple[str, float]] = []

    def _bold(self, text: str) -> str:
        return f"\033[1m{text}\033[0m" if self.tty else text

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, title: str) -> None:
        self.step_no += 1
        total = f"/{self.steps}" if self.steps else ""
        self.write()
        self.write(self._bold(f"==> [{self.step_no}{total}] {title}"))

    def command(self, argv: list[str]) -> None:
        """Show a command about to run, as a shell would take it."""
        self.write(self._bold("$ " + " ".join(shlex.quote(a) for a in argv)))

    def note(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self.write(f"    {line}" if line else "")

    def block(self, text: str, prefix: str = "  | ") -> None:
        for line in text.rstrip("\n").splitlines():
            self.write(prefix + line)

    def timing(self, what: str, seconds: float) -> None:
        self.timings.append((what, seconds))

    def summary(self, ok: bool) -> None:
        elapsed = time.monotonic() - self.started
        self.write()
        if self.timings:
            self.write(self._bold("timings:"))
            for what, seconds in self.timings:
                self.write(f"    {what:40s} {seconds:6.1f} s")
        self.write(self._bold(("demo finished" if ok else "demo FAILED")
                              + f" after {elapsed:.1f} s"))
