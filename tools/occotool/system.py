"""System packages the tests need beside the Python ones, installed when missing.

Only Debian's chromium so far: the dashboard's browser tests (occo-api/tests/
test_dashboard.py) drive it with Playwright, whose own browser download is not reachable
here. It is installed with apt-get when the tests run as root on a Debian system and it
is not there; elsewhere the browser tests say how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

__all__ = ["CHROMIUM", "ensure_chromium"]

CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> str | None:
    """The path of chromium, installing Debian's package first if it is missing and this
    can; None if it is not there (the browser tests then fail and say why)."""
    found = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("installing Debian's chromium for the browser tests (apt-get)", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            return None
    return shutil.which("chromium")
