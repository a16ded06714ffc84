"""Sphinx directives that generate OCCO's reference pages from the code at build time, so
the documentation cannot drift from what the programs do.

``.. occo-argparse:: module:function``
    The command line of the ``argparse`` parser that ``function()`` returns: usage,
    description, options, and one section per subcommand. ``:prog:`` sets the title.
``.. occo-openapi:: module:function``
    The REST paths of the OpenAPI document that ``function(version)`` returns.
``.. occo-schema:: module:attribute``
    A table of the keys of an ``occo.util.Schema``.
``.. occo-resource-schemas::``
    One table per resource type registered in the ``occo.resource_schema`` entry point
    group (every cloud handler backend's ``resource`` keys).
``.. occo-config::``
    Every section and key of ``occo.yaml`` with its default (``occo.api.config``).
``.. occo-package-graph::``
    A Graphviz drawing of the OCCO distributions and what each declares it depends on
    (read from the installed distributions' metadata, i.e. from their setup.py).

Each directive writes reStructuredText and parses it in place, so what it makes is plain
sections, tables and ``graphviz`` directives. An import that fails is an error of the
build (``sphinx-build -W`` stops), never a silently empty page.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import re
from collections.abc import Iterable
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

__all__ = ["setup"]

_UNDERLINES = "=-~^\"'"


def _load(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else ():
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def _title(text: str, level: int) -> list[str]:
    return [text, _UNDERLINES[level] * len(text), ""]


def _literal(text: str) -> str:
    return f"``{text}``" if text else ""


_SCHEME = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*):(?=//)")


def _prose(text: str) -> str:
    """Plain text from the code (a help, a key's doc), set in reStructuredText: a URI
    scheme in it (``file://``, ``redis://host``) describes a form, so it is escaped and
    docutils makes no link of it (``file://`` alone would be a link that leads nowhere)."""
    parts = re.split(r"(``.+?``)", text or "")   # inside ``literal`` text nothing links
    return "".join(p if i % 2 else _SCHEME.sub(r"\1\\:", p) for i, p in enumerate(parts))


def _cell(text: Any) -> str:
    return " ".join(str(text).split()) if text not in (None, "") else ""


def _table(header: list[str], rows: Iterable[list[Any]], widths: str | None = None
           ) -> list[str]:
    out = [".. list-table::", "   :header-rows: 1"]
    if widths:
        out.append(f"   :widths: {widths}")
    out.append("")
    for row in [header, *rows]:
        first, *rest = [_cell(c) for c in row]
        out.append(f"   * - {first}")
        out += [f"     - {c}" for c in rest]
    return out + [""]


def _indent(lines: Iterable[str], by: str = "   ") -> list[str]:
    return [by + line if line else "" for line in lines]


class _Generated(SphinxDirective):
    """A directive whose content is reStructuredText made by ``lines()``."""

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        try:
            text = self.lines()
        except Exception as exc:  # an import or a renamed function: the build must say so
            raise self.error(f"{self.name}: cannot generate from the code: "
                             f"{type(exc).__name__}: {exc}") from exc
        source = f"<{self.name} {' '.join(self.arguments)}>"
        content = StringList(text, source=source)
        container = nodes.section() if any(set(line) <= set(_UNDERLINES) and line
                                           for line in text) else nodes.container()
        container.document = self.state.document
        nested_parse_with_titles(self.state, content, container)
        return list(container.children)


# ----------------------------------------------------------------------- argparse

def _action_name(action: argparse.Action) -> str:
    if action.option_strings:
        if action.nargs == 0:
            return ", ".join(action.option_strings)
        metavar = action.metavar or action.dest.upper()
        return ", ".join(f"{o} {metavar}" for o in action.option_strings)
    return str(action.metavar or action.dest)


def _action_help(action: argparse.Action) -> str:
    text = _prose(action.help or "").replace("%(default)s", str(action.default))
    text = text.replace("%(prog)s", "")
    extra = []
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        extra.append("one of " + ", ".join(f"``{c}``" for c in action.choices))
    if action.required and action.option_strings:
        extra.append("required")
    if isinstance(action, argparse._AppendAction) and "repeat" not in text:
        extra.append("repeatable")
    return "; ".join(x for x in [text, *extra] if x)


def _parser_lines(parser: argparse.ArgumentParser, level: int) -> list[str]:
    out = ["::", "", *_indent(parser.format_usage().strip().splitlines()), ""]
    if parser.description:
        out += [parser.description, ""]
    rows = []
    subparsers = None
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            subparsers = action
            continue
        rows.append([_literal(_action_name(action)), _action_help(action)])
    if rows:
        out += _table(["argument", "meaning"], rows, "35 65")
    if parser.epilog and parser.epilog.startswith("examples:"):
        out += ["Examples::", "", *_indent(parser.epilog.splitlines()[1:]), ""]
    elif parser.epilog:
        out += [parser.epilog, ""]
    if subparsers is not None:
        helps = {a.dest: a.help for a in subparsers._choices_actions}
        for name, sub in subparsers.choices.items():
            out += _title(f"{parser.prog} {name}", level)
            if helps.get(name):
                out += [helps[name][0].upper() + helps[name][1:] + ".", ""]
            out += _parser_lines(sub, level + 1)
    return out


class ArgparseDirective(_Generated):
    required_arguments = 1
    option_spec = {"prog": directives.unchanged, "level": directives.nonnegative_int}

    def lines(self) -> list[str]:
        parser = _load(self.arguments[0])()
        if "prog" in self.options:
            parser.prog = self.options["prog"]
        return _parser_lines(parser, self.options.get("level", 1))


# ----------------------------------------------------------------------- OpenAPI

def _schema_text(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "")
    if kind == "array":
        return f"list of {_schema_text(schema.get('items'))}"
    return str(kind)


class OpenApiDirective(_Generated):
    required_arguments = 1
    option_spec = {"level": directives.nonnegative_int}

    def lines(self) -> list[str]:
        from occo.api import __version__
        doc = _load(self.arguments[0])(__version__)
        level = self.options.get("level", 1)
        out = [f"OpenAPI {doc.get('openapi', '')}, service version "
               f"{doc.get('info', {}).get('version', __version__)}. The service serves this "
               "document at ``GET /openapi.json``.", ""]
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if method not in ("get", "post", "put", "delete", "patch"):
                    continue
                out += _title(f"{method.upper()} {path}", level)
                if op.get("summary"):
                    out += [op["summary"], ""]
                if op.get("description"):
                    out += [op["description"], ""]
                params = op.get("parameters", []) + item.get("parameters", [])
                if params:
                    out += _table(["parameter", "in", "meaning"],
                                  [[_literal(p["name"]), p["in"] + (", required" if
                                                                    p.get("required") else ""),
                                    p.get("description", "")] for p in params], "25 20 55")
                body = op.get("requestBody")
                if body:
                    kinds = ", ".join(f"``{k}``" for k in body.get("content", {}))
                    out += [f"Request body ({kinds}): {body.get('description', '')}", ""]
                responses = op.get("responses", {})
                if responses:
                    rows = []
                    for code, resp in responses.items():
                        content = resp.get("content", {})
                        schema = next(iter(content.values()), {}).get("schema") \
                            if content else None
                        rows.append([code, resp.get("description", ""), _schema_text(schema)])
                    out += _table(["status", "meaning", "body"], rows, "10 65 25")
        schemas = doc.get("components", {}).get("schemas", {})
        if schemas:
            out += _title("Schemas", level)
            for name, schema in schemas.items():
                out += [f"``{name}``", "", "::", "",
                        *_indent(json.dumps(schema, indent=2).splitlines()), ""]
        return out


# ----------------------------------------------------------------------- schemas

def _schema_rows(schema: Any) -> list[list[str]]:
    return [[_literal(f.name), "yes" if f.required else "", f.expected(), _prose(f.doc)]
            for f in schema.fields]


class SchemaDirective(_Generated):
    required_arguments = 1

    def lines(self) -> list[str]:
        schema = _load(self.arguments[0])
        out = _table(["key", "required", "value", "meaning"], _schema_rows(schema),
                     "20 10 25 45")
        if schema.extra_keys:
            out += ["Other keys are accepted too.", ""]
        return out


class ResourceSchemasDirective(_Generated):
    option_spec = {"level": directives.nonnegative_int}

    def lines(self) -> list[str]:
        level = self.options.get("level", 2)
        out: list[str] = []
        from occo.util import RESOURCE_SCHEMA_GROUP
        found = sorted(importlib.metadata.entry_points(group=RESOURCE_SCHEMA_GROUP),
                       key=lambda e: e.name)
        if not found:
            raise LookupError(f"no entry points in group {RESOURCE_SCHEMA_GROUP} are installed")
        for entry in found:
            schema = entry.load()
            out += _title(f"``{entry.name}``", level)
            out += [f"Registered by ``{entry.value}`` "
                    f"({entry.dist.name if entry.dist else 'unknown distribution'}).", ""]
            out += _table(["key", "required", "value", "meaning"], _schema_rows(schema),
                          "20 10 25 45")
        return out


# ----------------------------------------------------------------------- occo.yaml

def _portable(value: Any) -> Any:
    """Defaults with this machine's home directories written as the variables they come
    from."""
    text = json.dumps(value)
    from occo.api.config import config_home, data_home
    for path, name in ((data_home(), "$XDG_DATA_HOME/occo"),
                       (config_home(), "$XDG_CONFIG_HOME/occo")):
        text = text.replace(str(path), name)
    return json.loads(text)


class ConfigDirective(_Generated):
    option_spec = {"level": directives.nonnegative_int}

    def lines(self) -> list[str]:
        from occo.api.config import CONFIG_SCHEMA, SECTIONS, Config
        level = self.options.get("level", 2)
        defaults = _portable(Config().effective())
        out = ["Top-level keys: " + ", ".join(_literal(f.name) for f in CONFIG_SCHEMA.fields)
               + ".", ""]
        for f in CONFIG_SCHEMA.fields:
            if f.name not in SECTIONS:
                out += [f"{_literal(f.name)}: {_prose(f.doc)} (default "
                        f"{_literal(json.dumps(defaults.get(f.name)))}).", ""]
        for name, schema in SECTIONS.items():
            out += _title(f"``{name}``", level)
            if schema.doc:
                out += [schema.doc[0].upper() + schema.doc[1:] + ".", ""]
            section_defaults = defaults.get(name) or {}
            rows = []
            for f in schema.fields:
                default = section_defaults.get(f.name) if isinstance(section_defaults,
                                                                     dict) else None
                rows.append([_literal(f.name), f.expected(),
                             _literal(json.dumps(default)) if default is not None else "",
                             _prose(f.doc)])
            if rows:
                out += _table(["key", "value", "default", "meaning"], rows, "18 22 25 35")
            if schema.extra_keys or not rows:
                out += ["Defaults::", "", *_indent(json.dumps(section_defaults, indent=2)
                                                   .splitlines()), ""]
        return out


# ----------------------------------------------------------------------- package graph

def _occo_requirements() -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if not name.startswith("occo-"):
            continue
        deps = []
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            dep = re.split(r"[\s;<>=!~\[]", req, maxsplit=1)[0].lower()
            if dep.startswith("occo-"):
                deps.append(dep)
        graph[name] = sorted(set(deps))
    return graph


def _reduce(graph: dict[str, list[str]]) -> dict[str, list[str]]:
    """The transitive reduction: an edge that another path implies is left out."""
    def reach(start: str, skip: tuple[str, str]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            for dep in graph.get(here, []):
                if (here, dep) != skip and dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen
    return {n: [d for d in deps if d not in reach(n, (n, d))] for n, deps in graph.items()}


class PackageGraphDirective(_Generated):
    option_spec = {"caption": directives.unchanged}

    def lines(self) -> list[str]:
        graph = _occo_requirements()
        if len(graph) < 2:
            raise LookupError("the occo-* distributions are not installed where Sphinx runs")
        reduced = _reduce(graph)
        body = ['rankdir="BT";', 'node [shape=box, style="rounded,filled", '
                'fillcolor="#eef3fb", fontname="sans-serif", fontsize=11];',
                'edge [color="#555555"];']
        for name in sorted(graph):
            body.append(f'"{name}";')
            for dep in reduced[name]:
                body.append(f'"{name}" -> "{dep}";')
        caption = self.options.get("caption", "What each OCCO distribution declares it "
                                              "depends on (edges implied by others omitted).")
        return [".. graphviz::", f"   :caption: {caption}", "", "   digraph packages {",
                *_indent(body, "      "), "   }", ""]


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.graphviz")
    app.add_directive("occo-argparse", ArgparseDirective)
    app.add_directive("occo-openapi", OpenApiDirective)
    app.add_directive("occo-schema", SchemaDirective)
    app.add_directive("occo-resource-schemas", ResourceSchemasDirective)
    app.add_directive("occo-config", ConfigDirective)
    app.add_directive("occo-package-graph", PackageGraphDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
