"""Checks that run with every build of OCCO's documentation (``sphinx-build -W`` turns
each finding into a failure of the build, as ``occo-demo/tests/test_docs.py`` runs it).

Links that lead nowhere
    Sphinx itself reports a ``:doc:`` or ``:ref:`` whose target does not exist. This
    checks the other links of a page: a relative link written by hand must name a page of
    this documentation (``../dev/packaging.html``), with an anchor that page has; a link
    to the same page must name an anchor it has; an external link must be ``http(s)`` or
    ``ftp`` with a host, or ``mailto:`` with an address. Anything else (``file://``, which
    docutils makes a link of wherever it stands in the text; ``unix://``; ``http://``
    alone) is reported with the page and line. External addresses are not fetched:
    ``sphinx-build -b linkcheck`` does that where there is a network.

Diagrams after Graphviz was installed
    The diagrams are drawn when a page is written, and a rebuild writes only the pages
    that changed, so after a build without ``dot`` the other pages would keep the
    missing diagrams. ``occo_graphviz_dot_found`` (whether ``dot`` is found now) is a
    configuration value that needs a fresh environment when it changes: the first build
    after ``dot`` appears (or disappears) reads and writes every page again, as
    ``sphinx-build -E`` does.
"""

from __future__ import annotations

import posixpath
import shutil
from typing import Any
from urllib.parse import urlsplit

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

_WEB = ("http", "https", "ftp")


def _anchors(app: Any, docname: str, doctree: nodes.document | None = None) -> set[str]:
    tree = doctree if doctree is not None else app.env.get_doctree(docname)
    return set(tree.ids)


def link_problem(app: Any, docname: str, doctree: nodes.document, uri: str) -> str | None:
    """Why ``uri`` on page ``docname`` leads nowhere, or None when it leads somewhere."""
    parts = urlsplit(uri)
    if parts.scheme:
        if parts.scheme in _WEB:
            return None if parts.netloc else "an address without a host"
        if parts.scheme == "mailto":
            return None if parts.path else "a mailto: link without an address"
        return (f"a {parts.scheme}: address is no page a reader can open (write it as "
                "``literal`` text)")
    if parts.netloc:
        return None  # //host/path: the page's own scheme
    if not parts.path:
        if parts.fragment and parts.fragment not in _anchors(app, docname, doctree):
            return f"this page has no anchor #{parts.fragment}"
        return None
    suffix = getattr(app.builder, "link_suffix", ".html") or ".html"
    target = posixpath.normpath(posixpath.join(posixpath.dirname(docname), parts.path))
    page = target[: -len(suffix)] if target.endswith(suffix) else None
    if page is None or page not in app.env.all_docs:
        return ("not a page of this documentation (link pages with :doc:, files with "
                ":download:)")
    if parts.fragment and parts.fragment not in _anchors(app, page):
        return f"the page {page} has no anchor #{parts.fragment}"
    return None


def check_links(app: Any, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":
        return
    for node in doctree.findall(nodes.reference):
        uri = node.get("refuri")
        if uri is None or node.get("internal"):
            continue  # a target in the page (docutils checks it), or Sphinx's own reference
        problem = link_problem(app, docname, doctree, uri)
        if problem:
            logger.warning("link %r on page %s leads nowhere: %s", uri, docname, problem,
                           location=node, type="occo", subtype="link")


def note_dot(app: Any, config: Any) -> None:
    config.occo_graphviz_dot_found = shutil.which(getattr(config, "graphviz_dot", "dot")
                                                  or "dot") is not None


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("occo_graphviz_dot_found", False, "env")
    app.connect("config-inited", note_dot)
    app.connect("doctree-resolved", check_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
