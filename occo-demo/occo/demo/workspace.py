"""Where a demo run keeps its things, away from the user's own OCCO state.

A :class:`Workspace` is one directory holding the demo's ``occo.yaml`` (its own SQLite
state file, its own local-cloud root, short polling intervals), an empty credentials
file (so the user's ``~/.config/occo/auth_data.yaml`` is never read), the state and the
local cloud's node directories. The demo passes ``--config <dir>/occo.yaml`` to every
``occo`` command it runs, so each can be copied and run by hand.

The example infrastructures ship inside this package (``occo/demo/examples/<name>/``:
``infra.yaml``, ``node_definitions.yaml``, ``README.rst``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from occo.util import load_yaml_file

from .errors import DemoUsageError
from .options import EXAMPLES

__all__ = ["EXAMPLES", "example_dir", "Workspace", "demo_config", "leftover_processes"]


def example_dir(name: str | os.PathLike[str]) -> Path:
    """The directory of a shipped example (``webapp``, ``ping``) or of a given path that
    holds an ``infra.yaml``."""
    if str(name) in EXAMPLES:
        with resources.as_file(resources.files("occo.demo") / "examples" / str(name)) as path:
            return Path(path)
    path = Path(name)
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        path = path.parent
    if not (path / "infra.yaml").is_file():
        raise DemoUsageError(f"{name}: not an example (one of {', '.join(EXAMPLES)}) nor a "
                             "directory with an infra.yaml")
    return path


def demo_config(root: Path) -> dict[str, Any]:
    """The demo's occo.yaml: everything under ``root``; short intervals, so the demo moves
    quickly and a failure shows within a minute."""
    return {
        "store": {"backend": "sqlite", "path": str(root / "state.sqlite")},
        "clouds": {"local": {"root": str(root / "local"), "grace_period": 3},
                   "dummy": {"store": "memory"}},
        "processing": {"poll_interval": 0.5, "first_poll": 0.1, "create_timeout": 60,
                       "health_timeout": 60, "max_attempts": 2},
        "maintenance": {"health_timeout": 30},
        "auth_data": str(root / "auth_data.yaml"),
    }


class Workspace:
    """The demo's directory; ``prepare()`` writes its configuration."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    @property
    def config_path(self) -> Path:
        return self.root / "occo.yaml"

    @property
    def local_root(self) -> Path:
        return self.root / "local"

    def prepare(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise DemoUsageError(f"{self.root} exists and is not a directory; give the demo "
                                 "a directory with --dir")
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            header = ("# Written by the OCCO demo (python -m occo.demo): its own state and "
                      "local cloud,\n# away from yours. Use it with "
                      f"occo --config {self.config_path} ...\n")
            self.config_path.write_text(header + yaml.safe_dump(demo_config(self.root),
                                                                sort_keys=False))
            (self.root / "auth_data.yaml").write_text(
                "# the local cloud needs no credentials\nresource: []\n")
        except OSError as exc:
            raise DemoUsageError(f"cannot use {self.root} as the demo's directory: "
                                 f"{exc.strerror or exc}") from exc

    def node_dirs(self, infra_id: str) -> list[Path]:
        """The local cloud's node directories of an infrastructure that still exist."""
        base = self.local_root / infra_id
        return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def infra_variables(infra_file: Path) -> dict[str, Any]:
    """The infrastructure-wide ``variables`` of a description (the demo reads ports)."""
    data = load_yaml_file(infra_file)
    variables = data.get("variables") if isinstance(data, dict) else None
    return dict(variables) if isinstance(variables, dict) else {}


def leftover_processes(infra_id: str) -> list[int]:
    """Pids of this user's processes started as nodes of ``infra_id`` (their environment
    holds ``OCCO_INFRA_ID=<infra_id>``): after a destroy there must be none."""
    marker = f"OCCO_INFRA_ID={infra_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return sorted(found)
