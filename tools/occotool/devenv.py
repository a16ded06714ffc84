"""env/dev: one virtualenv with every package installed editable, in build order, plus
everything their tests need (the union of the requirements_test.txt files, which agree
because they are pinned together).

Making it the first time takes a minute or two (downloads, and a build of every package),
so while it is made uv's own lines are shown as they come (``Downloading ...``,
``Building occo-util @ ...``, ``Built ...``, ``+ name==version``); when it is up to date
nothing is done and, with ``show=None``, nothing is printed.
"""

from __future__ import annotations

import collections
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .envs import _fresh, _mark, _stamp, base_python, bin_of, env_dir, run, uv, uv_env
from .errors import ToolError
from .packages import Package


def _combined(root: Path, order: list[Package]) -> Path:
    """env/dev-requirements.txt: the union of the requirements_test.txt files, editables
    first in build order."""
    lines: list[str] = []
    seen: set[str] = set()
    for pkg in order:
        for raw in (pkg.path / "requirements_test.txt").read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("-e "):
                line = f"-e {(pkg.path / line[3:].strip()).resolve()}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
    # editables first, in build order, then the pinned distributions
    lines.sort(key=lambda line: 0 if line.startswith("-e ") else 1)
    combined = env_dir(root) / "dev-requirements.txt"
    combined.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if not combined.is_file() or combined.read_text() != text:
        combined.write_text(text)
    return combined


def _print(line: str) -> None:
    print(line, flush=True)


def _worth_showing(line: str) -> bool:
    """uv's lines while it works (downloads, builds, the counts), and which OCCO packages
    it installed; not the ``+ name==version`` line of every pinned distribution."""
    if not line or line.startswith("Using Python "):
        return False
    return not line.lstrip().startswith(("+ ", "- ")) or "occo-" in line


def _stream(cmd: list, *, cwd: Path, env: dict, what: str, show: Callable[[str], None],
            keep: Callable[[str], bool] = _worth_showing) -> None:
    """Run ``cmd``, showing the lines of its output that ``keep`` accepts as they come."""
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
    tail: collections.deque[str] = collections.deque(maxlen=25)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip()
        tail.append(line)
        if keep(line):
            show(f"    {line}")
    code = proc.wait()
    if code != 0:
        raise ToolError(f"{what} failed (exit {code}):\n" + "\n".join(tail))


def dev_env(root: Path, order: list[Package],
            show: Callable[[str], None] | None = _print, venv_dir: Path | None = None) -> Path:
    """Create or update env/dev (``venv_dir``: elsewhere); reused while the
    requirements_test.txt files, the setup.py files and the interpreter are unchanged.
    ``show`` gets the progress lines while it is made (and one line when it is up to
    date; ``None`` prints nothing then)."""
    venv_dir = venv_dir or env_dir(root) / "dev"
    combined = _combined(root, order)
    interpreter = base_python()
    stamp = _stamp([combined, *(p.path / "setup.py" for p in order)], interpreter)
    shown = venv_dir.relative_to(root) if venv_dir.is_relative_to(root) else venv_dir
    if _fresh(venv_dir, stamp):
        if show is not None:
            show(f"{shown} is up to date")
        return venv_dir
    say = show or _print
    started = time.monotonic()
    why = ("a setup.py or requirements_test.txt changed since it was made"
           if venv_dir.exists() else "the first time takes a minute or two")
    say(f"making {shown} ({why}): the OCCO packages editable, in build order "
        f"({', '.join(p.directory for p in order)}), and the pinned distributions their "
        "tests need")
    tool, env = uv(root), uv_env(root)
    run([tool, "venv", "-q", "--clear", "--seed", "--python", interpreter, venv_dir],
        env=env, what=f"creating {venv_dir}")
    python = bin_of(venv_dir, "python")
    _stream([tool, "pip", "install", "--no-progress", "--no-deps", "--python", python,
             "-r", combined], cwd=root, env=env, what=f"installing {combined}", show=say)
    run([tool, "pip", "check", "--python", python], env=env,
        what=f"dependency check of {venv_dir} (a requirements file is incomplete)")
    _mark(venv_dir, stamp)
    say(f"{shown} is ready ({time.monotonic() - started:.0f} s)")
    return venv_dir
