"""Running the tests: each package in its own virtualenv, then the tool's own tests
(among them the release round trip), then one summary line over everything.

A package's environment holds only what its requirements_test.txt installs (with
--no-deps, then a dependency check), which proves that the package declares all it needs.
Under ``CI=true`` a skipped test counts as failed: CI must run every test.
"""

from __future__ import annotations

import os
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .envs import bin_of, env_dir, make_env, tools_env
from .errors import ToolError
from .packages import Package, closure
from .paths import find_machine_paths


@dataclass
class Outcome:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _read_junit(report: Path, outcome: Outcome) -> None:
    suites = ET.parse(report).getroot()
    for suite in suites.iter("testsuite"):
        for case in suite.iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            if case.find("failure") is not None or case.find("error") is not None:
                outcome.failed += 1
            elif case.find("skipped") is not None:
                outcome.skipped += 1
                reason = case.find("skipped").get("message", "")
                outcome.notes.append(f"skipped {name}: {reason}")
            else:
                outcome.passed += 1


def run_pytest(python: Path, cwd: Path, name: str, reports: Path, args: list[str],
               env: dict | None = None) -> Outcome:
    outcome = Outcome(name)
    report = reports / f"{name}.xml"
    report.unlink(missing_ok=True)
    print(f"\n=== {name}: tests ===", flush=True)
    started = time.monotonic()
    proc = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider",
                           f"--junitxml={report}", *args], cwd=cwd, env=env)
    outcome.seconds = time.monotonic() - started
    if report.is_file():
        _read_junit(report, outcome)
    if proc.returncode not in (0, 1, 5) or not report.is_file():
        outcome.failed += 1
        outcome.notes.append(f"pytest exited with status {proc.returncode}")
    return outcome


def test_package(root: Path, packages: dict[str, Package], pkg: Package, reports: Path,
                 args: list[str], python: Path | None = None, label: str = "") -> Outcome:
    """``pkg``'s tests in its own virtualenv: env/test/<pkg> for the Python running the
    tool, env/test-<label>/<pkg> for another one (``label`` is its "3.X")."""
    name = f"{pkg.directory}@{label}" if label else pkg.directory
    where = env_dir(root) / (f"test-{label}" if label else "test") / pkg.directory
    try:
        inputs = [p.path / "setup.py" for p in closure(packages, pkg, tests=True)]
        venv_dir = make_env(root, where, [pkg.path / "requirements_test.txt"], cwd=pkg.path,
                            stamp_inputs=inputs, python=python)
    except ToolError as exc:
        return Outcome(name, failed=1, notes=[f"environment: {exc}"])
    return run_pytest(bin_of(venv_dir, "python"), pkg.path, name, reports, args)


def check_paths(root: Path) -> Outcome:
    """The tree names no absolute path of a machine (occotool.paths); one test's worth."""
    started = time.monotonic()
    found = find_machine_paths(root)
    outcome = Outcome("machine paths", seconds=time.monotonic() - started)
    if found:
        outcome.failed = 1
        outcome.notes = ["absolute paths of a machine or of what lies beside the checkout "
                         "(tests find extra corpora through settings such as "
                         "OCCO_TUTORIALS):", *found[:50]]
        if len(found) > 50:
            outcome.notes.append(f"... and {len(found) - 50} more")
    else:
        outcome.passed = 1
    print(f"machine paths: {'none' if not found else len(found)} in the tree", flush=True)
    return outcome


def test_tools(root: Path, reports: Path, args: list[str]) -> Outcome:
    venv_dir = tools_env(root)
    return run_pytest(bin_of(venv_dir, "python"), root / "tools", "tools", reports, args)


def summarise(outcomes: list[Outcome]) -> int:
    """Print per-part results and the one summary line; return the exit status."""
    strict = in_ci()
    passed = failed = 0
    print("\n=== summary ===")
    for o in outcomes:
        extra = o.skipped if strict else 0
        passed += o.passed
        failed += o.failed + extra
        print(f"{o.name:28s} {o.passed:5d} passed {o.failed + extra:4d} failed "
              f"{o.skipped:4d} skipped {o.seconds:7.1f}s")
        for note in o.notes:
            print(f"    {note}")
    if strict and any(o.skipped for o in outcomes):
        print("(CI=true: skipped tests count as failed)")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1
