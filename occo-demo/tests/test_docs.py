"""The documentation builds with warnings as errors, and its generated references say
what the code does (docs/, a Sphinx project; see docs/dev/docs.rst)."""

from __future__ import annotations

import html
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

from occo.util.testing.debian import ensure_program, in_ci

DOCS = ROOT / "docs"


def _ensure_dot() -> None:
    """Graphviz draws the diagrams (installed under CI=true as root, see
    occo.util.testing.debian); elsewhere say how."""
    if not ensure_program("dot", "graphviz"):
        message = ("Graphviz's dot is needed to draw the documentation's diagrams: "
                   "apt-get install graphviz")
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def sphinx_build(source, out, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                           "-d", str(out / "doctrees"), *extra, str(source), str(out / "html")],
                          text=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    _ensure_dot()
    out = tmp_path_factory.mktemp("docs")
    proc = sphinx_build(DOCS, out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return out / "html"


def text_of(page) -> str:
    return re.sub(r"<[^>]+>", "", page.read_text())


def test_the_docs_build_with_warnings_as_errors(built):
    for page in ("index", "user/install", "user/first-infrastructure", "user/formats",
                 "user/configuration", "user/clouds", "user/scaling-healing",
                 "user/distributed", "user/cli", "user/rest-reference", "dev/packaging",
                 "dev/docs", "dev/demo", "dev/contracts", "architecture/index"):
        assert (built / f"{page}.html").is_file(), page


def test_every_component_page_is_in_the_table_of_contents(built):
    index = (built / "index.html").read_text()
    for page in DOCS.glob("*.rst"):
        if page.stem != "index":
            assert f'href="{page.stem}.html"' in index, page.name


def test_cli_reference_lists_every_subcommand_and_option(built):
    from occo.api.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    text = text_of(built / "user" / "cli.html")
    for name, subparser in sub.choices.items():
        assert f"occo {name}¶" in text, name
        for action in subparser._actions:
            for option in set(action.option_strings) - {"-h", "--help"}:
                assert option in text, (name, option)
    assert "python -m occo.demo" in text and "--scale-to N" in text


def test_rest_reference_lists_every_path_of_the_openapi_document(built):
    from occo.api import __version__
    from occo.api.rest_openapi import openapi_document
    text = text_of(built / "user" / "rest-reference.html")
    for path, item in openapi_document(__version__)["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}¶" in text, (method, path)


def test_configuration_reference_has_every_key(built):
    from occo.api.config import SECTIONS
    text = text_of(built / "user" / "configuration.html")
    for name, schema in SECTIONS.items():
        assert f"{name}¶" in text
        for field in schema.fields:
            assert field.name in text, (name, field.name)
    assert str(os.path.expanduser("~")) + "/" not in text   # defaults shown portably


def test_resource_keys_of_every_registered_cloud_are_listed(built):
    text = text_of(built / "user" / "clouds.html")
    for entry in importlib.metadata.entry_points(group="occo.resource_schema"):
        schema = entry.load()
        assert f"{entry.name}¶" in text
        for field in schema.fields:
            assert field.name in text, (entry.name, field.name)


def test_diagrams_are_drawn_from_text_at_build_time(built):
    page = (built / "architecture" / "index.html").read_text()
    images = re.findall(r'(_images/graphviz-[0-9a-f]+\.svg)', page)
    assert len(set(images)) >= 4
    drawn = html.unescape("".join(p.read_text()
                                  for p in (built / "_images").glob("graphviz-*.svg")))
    for dist in ("occo-util", "occo-compiler", "occo-api", "occo-demo"):
        assert dist in drawn
    # pictures are drawn from text; the one exception is the dashboard's screenshots,
    # which its browser test takes (OCCO_SCREENSHOTS=docs/user/dashboard)
    screenshots = DOCS / "user" / "dashboard"
    images_in_source = [p for p in DOCS.rglob("*") if "_build" not in p.parts
                        and p.suffix.lower() in (".png", ".svg", ".jpg", ".jpeg", ".gif")
                        and not (p.parent == screenshots and p.suffix == ".png")]
    assert images_in_source == []


def test_docs_requirements_pin_what_this_environment_builds_with():
    # The pins keep environment markers (one file for every supported Python): each line
    # whose marker holds here must match what this environment has, and sphinx must have one.
    from packaging.requirements import Requirement

    pins = {}
    for line in (DOCS / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                (version,) = [spec.version for spec in req.specifier]
                pins[req.name.lower()] = version
    assert "sphinx" in pins
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, (
            f"docs/requirements.txt pins {name}=={version}, the tested environment has "
            f"{importlib.metadata.version(name)}: regenerate it (docs/dev/docs.rst)")


def test_a_reference_that_cannot_be_generated_fails_the_build(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\n"
        "extensions = ['occo_docs']\n")
    (source / "index.rst").write_text(
        "Broken\n======\n\n.. occo-argparse:: occo.api.no_such_module:build_parser\n")
    proc = sphinx_build(source, tmp_path / "out")
    assert proc.returncode != 0
    assert ("occo-argparse: cannot generate from the code: ModuleNotFoundError: No module "
            "named 'occo.api.no_such_module'") in proc.stderr
