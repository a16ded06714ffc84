"""Helpers for OCCO's own tests and for anyone testing against OCCO (no pytest at import).

The helpers every package's tests share, each defined once:

- :func:`wait_until`: poll a condition with a deadline (or a simulated clock);
- :func:`free_port`, :func:`wait_for_port`: loopback ports for test servers;
- :class:`FaultProxy`: a TCP proxy in front of a real server that a test breaks on purpose;
- :func:`start_moto`: moto's EC2 API server on a loopback port.

Two corpora of Occopus-format files:

- :data:`CORPUS`: the project's own descriptions, node definitions, templates and Occopus
  configuration files, written for OCCO's tests and shipped here so that every package's
  tests find them in their virtualenv (``occo-util`` is in each one). Nothing outside the
  repository is needed to run the tests.
- the Occopus tutorials: an optional extra corpus, never part of the repository, found
  through the ``OCCO_TUTORIALS`` setting (a directory). :func:`tutorials` returns it, or
  ``None``; :func:`tutorials_missing` says why it is not there, as a skip reason.
"""

from __future__ import annotations

import os
from pathlib import Path

from .faultproxy import FaultProxy
from .moto import MotoServer, start_moto
from .net import free_port, wait_for_port
from .waiting import wait_until

__all__ = ["CORPUS", "TUTORIALS_SETTING", "FaultProxy", "MotoServer", "corpus", "free_port",
           "start_moto", "tutorials", "tutorials_missing", "wait_for_port", "wait_until"]

#: The project's own Occopus-format corpus (see corpus/README.rst).
CORPUS = Path(__file__).resolve().parent / "corpus"

#: The environment variable that names the optional Occopus tutorials directory.
TUTORIALS_SETTING = "OCCO_TUTORIALS"


def corpus(*parts: str) -> Path:
    """A path inside :data:`CORPUS`; it must exist (a typo fails loudly, not as a skip)."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not in OCCO's test corpus")
    return path


def tutorials_missing() -> str | None:
    """Why the Occopus tutorials cannot be used (a skip reason), or ``None`` if they can."""
    value = os.environ.get(TUTORIALS_SETTING, "").strip()
    if not value:
        return (f"{TUTORIALS_SETTING} is not set (the Occopus tutorials are an optional "
                "extra corpus; .ci/run sets it where the CI machine lays them beside the checkout)")
    path = Path(value)
    if not path.is_dir():
        return f"{TUTORIALS_SETTING}={value}: no such directory"
    return None


def tutorials() -> Path | None:
    """The Occopus tutorials directory named by ``OCCO_TUTORIALS``, or ``None``."""
    if tutorials_missing() is not None:
        return None
    return Path(os.environ[TUTORIALS_SETTING]).resolve()
