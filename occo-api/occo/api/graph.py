"""``occo graph``: the dependency graph with the live count of instances per state.

:func:`graph_data` turns :meth:`Occo.status` and the description's edges into a plain,
JSON-able form; :func:`to_dot` writes it as Graphviz DOT text: one box per node, an arrow
from each dependent to the node it depends on (``dependencies: [[web, db]]`` draws
``web -> db``), the fill colour saying its health. :func:`render` has Graphviz's ``dot``
draw it as SVG or PNG. All but :func:`render` are pure functions.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from occo.util import OccoError

from .errors import UsageError

__all__ = ["FORMATS", "HEALTH_COLOURS", "RENDER_TIMEOUT", "graph_data", "to_dot", "quote",
           "output_format", "render"]

#: what ``occo graph --format`` takes
FORMATS = ("dot", "svg", "png")
#: an output file's suffix -> the format written to it when ``--format`` is not given
SUFFIXES = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png"}
#: seconds Graphviz may take to draw a graph
RENDER_TIMEOUT = 30.0
#: a node's health -> its fill colour
HEALTH_COLOURS = {"ready": "#b7e4c7", "failing": "#f4a6a6", "building": "#fde68a",
                  "none": "#e5e7eb"}
#: the order the per-state counts are written in (others follow, alphabetically)
STATE_ORDER = ("ready", "pending", "starting", "unhealthy", "failed", "unknown", "dropping")
_FAILING = ("failed", "unhealthy")


def _state_of(instance: Mapping[str, Any]) -> str:
    """An instance's state as counted: ``dropping`` while OCCO drops it, else its state."""
    return "dropping" if instance.get("intent") == "dropping" else str(instance["state"])


def _health(counts: Mapping[str, int], wanted: int) -> str:
    """``failing`` if any instance failed or is unhealthy, ``none`` without instances,
    ``ready`` when every one is ready and there are as many as wanted, else ``building``
    (pending, starting, unknown, dropping, or fewer ready than wanted)."""
    total = sum(counts.values())
    if any(counts.get(s) for s in _FAILING):
        return "failing"
    if total == 0:
        return "none"
    ready = counts.get("ready", 0)
    return "ready" if ready == total and ready >= wanted else "building"


def graph_data(status: Mapping[str, Any], edges: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The graph of one infrastructure: ``status`` as :meth:`Occo.status` returns it and
    ``edges`` as ``(dependent, dependency)`` pairs. Edges naming a node the status does
    not have (a description changed between the two reads) are left out."""
    nodes = []
    for node in status["nodes"]:
        counts = Counter(_state_of(i) for i in node["instances"])
        ordered = sorted(counts, key=lambda s: (STATE_ORDER.index(s) if s in STATE_ORDER
                                                else len(STATE_ORDER), s))
        scaling = node["scaling"]
        health = _health(counts, scaling["target"])
        nodes.append({"name": node["name"], "type": node["type"],
                      "ready": counts.get("ready", 0), "wanted": scaling["target"],
                      "min": scaling["min"], "max": scaling["max"],
                      "states": {s: counts[s] for s in ordered}, "health": health})
    names = {n["name"] for n in nodes}
    pairs = [{"dependent": a, "dependency": b} for a, b in dict.fromkeys(edges)
             if a in names and b in names]
    return {"infra_id": status["infra_id"], "name": status["name"],
            "status": status["status"], "nodes": nodes, "edges": pairs}


def quote(text: str) -> str:
    """``text`` as a double-quoted DOT string that Graphviz shows as written: quotes and
    backslashes escaped (so ``\\N`` or a trailing backslash stay text), line breaks as
    ``\\n``."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))
    return f'"{escaped}"'


def _label(lines: Iterable[str]) -> str:
    """Several lines as one DOT label: each line escaped, joined by DOT's ``\\n``."""
    return '"' + "\\n".join(quote(line)[1:-1] for line in lines) + '"'


def node_lines(node: Mapping[str, Any]) -> list[str]:
    """The text of a node's box: name, type, ``ready/wanted (min-max)``, the counts."""
    counts = ", ".join(f"{n} {s}" for s, n in node["states"].items()) or "no instances"
    return [node["name"], node["type"],
            f"{node['ready']}/{node['wanted']} ({node['min']}-{node['max']})", counts]


def to_dot(data: Mapping[str, Any]) -> str:
    """:func:`graph_data`'s graph as DOT text (the same input gives the same text)."""
    title = [f"{data['name']} ({data['infra_id']}): {data['status']}",
             "arrows point from a node to the node it depends on"]
    lines = [f"digraph {quote(data['name'])} {{",
             f"  label={_label(title)};",
             "  labelloc=t;",
             '  node [shape=box, style="rounded,filled", fontsize=11];']
    for node in data["nodes"]:
        lines.append(f"  {quote(node['name'])} [label={_label(node_lines(node))}, "
                     f"fillcolor={quote(HEALTH_COLOURS[node['health']])}];")
    for edge in data["edges"]:
        lines.append(f"  {quote(edge['dependent'])} -> {quote(edge['dependency'])};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def output_format(fmt: str | None, output: str | None) -> str:
    """The format to write: ``fmt`` if given, else the one the output file's suffix
    names, else (no file, or a file without a suffix) DOT. An unknown suffix is a
    UsageError rather than DOT text in a file whose name promises something else."""
    if fmt:
        return fmt
    suffix = PurePath(output).suffix.lower() if output else ""
    if not suffix:
        return "dot"
    if suffix not in SUFFIXES:
        raise UsageError(f"cannot tell the graph format from the file name {output!r} "
                         f"(known: {', '.join(SUFFIXES)}); give --format "
                         + ", ".join(FORMATS[:-1]) + f" or {FORMATS[-1]}")
    return SUFFIXES[suffix]


def render(dot: str, fmt: str, *, timeout: float = RENDER_TIMEOUT) -> bytes:
    """The graph in ``fmt``: the DOT text itself, or drawn by Graphviz's ``dot`` as
    ``svg`` or ``png``. No ``dot`` on PATH: a UsageError (exit 2) saying so."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown graph format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "dot":
        return dot.encode("utf-8")
    program = shutil.which("dot")
    if program is None:
        raise UsageError(f"--format {fmt} needs Graphviz's dot program, which is not "
                         "installed (not on PATH; Debian: apt-get install graphviz); "
                         "--format dot works without it")
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=dot.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise OccoError(f"Graphviz's dot did not draw the graph within {timeout:g} s") \
            from None
    except OSError as exc:
        raise OccoError(f"could not run Graphviz's dot ({program}): {exc}") from exc
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise OccoError(f"Graphviz's dot could not draw the graph: {why}")
    return done.stdout
