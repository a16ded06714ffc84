"""System packages the tests need beside the Python ones, installed when missing.

Debian's chromium: the dashboard's browser tests (occo-api/tests/test_dashboard.py)
drive it with Playwright, whose own browser download is not reachable here. It is
installed with apt-get when the tests run as root on a Debian system and it is not
there; elsewhere the browser tests say how to install it. The deploy tests install what
they need (docker.io, debootstrap, docker-compose, cloud-init) with :func:`apt_install`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

__all__ = ["CHROMIUM", "apt_install", "ensure_chromium"]

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
    problem = apt_install(["chromium"])
    if problem:
        print(problem, file=sys.stderr)
        return None
    return shutil.which("chromium")


def apt_install(packages: list[str], timeout: float = 900.0) -> str | None:
    """Install Debian's ``packages`` with apt-get; why not (None: they were)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "apt-get is run only as root on a Debian system"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"{' '.join(cmd)} took more than {timeout:g} s"
        if proc.returncode != 0:
            return f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}"
    return None
