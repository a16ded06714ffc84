"""Shared helpers for occo.compiler's tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from schemas import CONFIG_MANAGERS, HEALTH_CHECKS, LOCAL, SCHEMAS  # noqa: E402

from occo.compiler import CompileErrors, compile_infrastructure  # noqa: E402
from occo.util.testing import tutorials  # noqa: E402

#: The Occopus tutorials (an optional extra corpus, OCCO_TUTORIALS), or None.
TUTORIALS: Path | None = tutorials()

#: Keyword arguments that stand in for the plugins' entry points.
PLUGINS: dict[str, Any] = dict(resource_schemas=SCHEMAS, config_managers=CONFIG_MANAGERS,
                               health_checks=HEALTH_CHECKS)

#: The same with OCCO's ``local`` resource too, which OCCO's own corpus uses.
CORPUS_PLUGINS: dict[str, Any] = {**PLUGINS, "resource_schemas": {**SCHEMAS, "local": LOCAL}}

DEFS = """\
'node_def:db_node':
  - resource: {type: dummy, zone: a}
    health_check: {ports: [3306]}
'node_def:web_node':
  - resource: {type: dummy, zone: a}
    contextualisation:
      type: cloudinit
      context_template: |
        #cloud-config
        runcmd: ["echo {{ variables.greeting }}"]
  - resource: {type: dummy, zone: b}
'node_def:cache_node':
  - resource: {type: dummy}
"""


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``; return ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def compile_files(root: Path, infra: str, defs: str | None = DEFS, **kwargs: Any):
    """Write infra.yaml (and nodes/node_definitions.yaml) under ``root`` and compile."""
    files = {"infra.yaml": infra}
    if defs is not None:
        files["nodes/node_definitions.yaml"] = defs
    write_tree(root, files)
    return compile_infrastructure(root / "infra.yaml", **{**PLUGINS, **kwargs})


def compile_errors(root: Path, infra: str, defs: str | None = DEFS,
                   **kwargs: Any) -> CompileErrors:
    """Like :func:`compile_files`, but the compile must fail; returns the errors."""
    with pytest.raises(CompileErrors) as caught:
        compile_files(root, infra, defs, **kwargs)
    return caught.value
