"""Sphinx configuration of OCCO's documentation (user guide, developer guide, architecture
and the components' own pages).

Build: ``sphinx-build -E -n -W --keep-going -b html docs docs/_build/html`` with the OCCO
packages and docs/requirements.txt installed (occo-demo's test environment has both; its
tests/test_docs.py runs the same build into a new directory). Diagrams are drawn at build
time by Graphviz's ``dot`` from the text in the pages; the reference pages are generated
from the code by the small extension in ``_ext/occo_docs.py``; ``_ext/occo_checks.py``
fails the build on a link that leads nowhere and draws every page again when ``dot``
appears (see docs/dev/docs.rst).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "tools"))   # occotool: the tool's command line

from occo.api import __version__  # noqa: E402  (after the path set-up)

project = "OCCO"
author = "the OCCO developers"
copyright = "OCCO developers, Apache-2.0"
version = release = __version__

root_doc = "index"
extensions = ["sphinx.ext.graphviz", "occo_docs", "occo_checks"]
exclude_patterns = ["_build", "_ext", "requirements.*", "README.rst", "Thumbs.db",
                    ".DS_Store"]
templates_path: list[str] = []

graphviz_output_format = "svg"
graphviz_dot_args = ["-Gfontname=sans-serif", "-Nfontname=sans-serif",
                     "-Efontname=sans-serif"]

html_theme = "alabaster"
html_title = f"OCCO {release}"
html_theme_options = {
    "description": "builds multi-node infrastructures on clouds and keeps them alive",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []
html_show_sourcelink = False

# every cross-reference must resolve (as -n would say): with -W, one that does not fails
nitpicky = True
