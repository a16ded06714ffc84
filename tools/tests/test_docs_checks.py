"""The checks every build of docs/ runs (docs/_ext/occo_checks.py): a link that leads
nowhere fails a ``-W`` build, naming the page and the link; diagrams are drawn in every
page once Graphviz's ``dot`` appears, without ``-E``.

The real documentation is built by occo-demo's tests/test_docs.py (it needs every OCCO
package installed); these build small projects with the same extension, in env/docs: a
virtualenv holding only docs/requirements.txt (Sphinx), made with uv like every other.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, clean_env

from occotool.envs import bin_of, env_dir, make_env

DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def sphinx() -> Path:
    venv = make_env(ROOT, env_dir(ROOT) / "docs", [DOCS / "requirements.txt"], cwd=DOCS,
                    stamp_inputs=[])
    return bin_of(venv, "python")


def project(base: Path, index: str, dot: Path | None = None) -> Path:
    source = base / "src"
    source.mkdir(parents=True)
    (source / "conf.py").write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(DOCS / '_ext')!r})
        extensions = ["sphinx.ext.graphviz", "occo_checks"]
        nitpicky = True
        graphviz_output_format = "svg"
        graphviz_dot = {str(dot or base / 'no-dot')!r}
        """))
    (source / "index.rst").write_text(textwrap.dedent(index))
    (source / "other.rst").write_text("Other\n=====\n\nA section\n---------\n\nText.\n")
    return source


def build(python: Path, source: Path, *extra: str) -> subprocess.CompletedProcess:
    out = source.parent / "out"
    return subprocess.run([str(python), "-m", "sphinx", "-n", "--keep-going", "-q", "-b",
                           "html", "-d", str(out / "doctrees"), *extra, str(source),
                           str(out / "html")], text=True, capture_output=True,
                          env=clean_env(), timeout=120)


GOOD = """\
    Links
    =====

    .. toctree::

       other

    :doc:`other`, `by hand <other.html>`_, `a section <other.html#a-section>`_,
    `this page's title <#links>`_, `a web page <https://example.org/docs/>`_,
    `mail <mailto:occo@example.org>`_ and https://example.org/ written out.
    Forms as literal text link nowhere and pass: ``file://``, ``redis://host:6379/0``.
    """


def test_links_that_lead_somewhere_pass(sphinx, tmp_path):
    proc = build(sphinx, project(tmp_path, GOOD), "-W")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("text, why", [
    ("an image tarball by a file:// or http(s):// URL", "'file://' on page index leads "
     "nowhere: a file: address is no page a reader can open"),
    ("`a page <missing.html>`_", "'missing.html' on page index leads nowhere: not a page "
     "of this documentation"),
    ("`a page <../other.html>`_", "'../other.html' on page index leads nowhere: not a page"),
    ("`an anchor <other.html#nowhere>`_", "the page other has no anchor #nowhere"),
    ("`here <#nowhere>`_", "this page has no anchor #nowhere"),
    ("`nothing <http://>`_", "'http://' on page index leads nowhere: an address without "
     "a host"),
    (":doc:`missing`", "unknown document: 'missing'"),   # Sphinx's own check, under -W
])
def test_a_link_that_leads_nowhere_fails_the_build(sphinx, tmp_path, text, why):
    proc = build(sphinx, project(tmp_path, GOOD + "\n" + text + "\n"), "-W")
    assert proc.returncode != 0
    assert why in proc.stderr, proc.stderr
    assert "index.rst" in proc.stderr   # where it is


FAKE_DOT = """\
#!{python}
import sys
args = sys.argv[1:]
at = next(i for i, a in enumerate(args) if a.startswith("-o"))
out = args[at][2:] or args[at + 1]
sys.stdin.read()
open(out, "w").write('<svg xmlns="http://www.w3.org/2000/svg" width="8pt" height="8pt"/>')
"""


def test_diagrams_are_drawn_once_dot_appears_without_a_fresh_environment(sphinx, tmp_path):
    dot = tmp_path / "bin" / "dot"
    source = project(tmp_path, """\
        Diagram
        =======

        .. graphviz::

           digraph { a -> b }

        .. toctree::

           other
        """, dot=dot)
    images = tmp_path / "out" / "html" / "_images"
    first = build(sphinx, source)            # no dot yet: a warning, no diagram
    assert "dot command" in first.stderr and "cannot be run" in first.stderr, first.stderr
    assert not list(images.glob("graphviz-*.svg"))
    dot.parent.mkdir()
    dot.write_text(FAKE_DOT.format(python=sys.executable))
    dot.chmod(0o755)
    second = build(sphinx, source, "-W")     # no -E, the page unchanged
    assert second.returncode == 0, second.stderr
    drawn = list(images.glob("graphviz-*.svg"))
    assert drawn, "the page kept the diagram missing from the build without dot"
    assert drawn[0].name in (tmp_path / "out" / "html" / "index.html").read_text()
