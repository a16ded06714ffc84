"""What ``occo --version`` says: OCCO's version and that of each of its packages."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .version import __version__

__all__ = ["version_text", "OCCO_DISTRIBUTIONS"]

OCCO_DISTRIBUTIONS = ("occo-util", "occo-compiler", "occo-infobroker", "occo-enactor",
                      "occo-infraprocessor", "occo-cloudhandler", "occo-servicecomposer",
                      "occo-api")


def version_text() -> str:
    lines = [f"occo {__version__}"]
    for dist in OCCO_DISTRIBUTIONS:
        try:
            lines.append(f"  {dist} {version(dist)}")
        except PackageNotFoundError:
            lines.append(f"  {dist} (not installed)")
    return "\n".join(lines)
