"""The static checks of ``./bootstrap.sh test``: ruff over the whole tree (ruff.toml) and
mypy over every package's code (mypy.ini: strict on the scheduler and on what crosses a
package boundary). Each is one outcome of the summary; a finding fails it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .envs import bin_of, tools_env
from .packages import Package
from .testing import Outcome

MYPY_CONFIG = "mypy.ini"
RUFF_CONFIG = "ruff.toml"


def _outcome(name: str, cmd: list[str], root: Path) -> Outcome:
    print(f"\n=== {name} ===", flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    outcome = Outcome(name, seconds=time.monotonic() - started)
    report = (proc.stdout + proc.stderr).strip()
    if report:
        print(report, flush=True)
    if proc.returncode == 0:
        outcome.passed = 1
    else:
        outcome.failed = 1
        lines = report.splitlines()
        outcome.notes = [*lines[:40], *([f"... and {len(lines) - 40} more lines"]
                                       if len(lines) > 40 else [])]
    return outcome


def check_lint(root: Path, paths: list[Path] | None = None) -> Outcome:
    """ruff over the tree (or over ``paths``), with the tree's configuration."""
    ruff = bin_of(tools_env(root), "ruff")
    targets = [str(p) for p in (paths or [root])]
    return _outcome("ruff", [str(ruff), "check", "--no-cache", "--output-format=concise",
                             "--config", str(root / RUFF_CONFIG), *targets], root)


def check_types(root: Path, packages: dict[str, Package]) -> Outcome:
    python = bin_of(tools_env(root), "python")
    cmd = [str(python), "-m", "mypy", "--config-file", str(root / MYPY_CONFIG)]
    for pkg in sorted(packages.values(), key=lambda p: p.module):
        cmd += ["-p", f"occo.{pkg.module}"]
    return _outcome("mypy", cmd, root)
