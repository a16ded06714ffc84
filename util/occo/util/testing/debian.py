"""A program the tests need from Debian's packages (Graphviz's ``dot``): under
``CI=true``, as root, installed with apt-get when it is missing, so the CI machine runs
those tests instead of skipping them; elsewhere the tests say how to install it."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["in_ci", "ensure_program"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def ensure_program(program: str, package: str) -> bool:
    """Whether ``program`` is on PATH, after installing ``package`` if CI allows it."""
    if shutil.which(program):
        return True
    if in_ci() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True,
                           timeout=300)
            subprocess.run(install, env=env, capture_output=True, timeout=600)
    return shutil.which(program) is not None
