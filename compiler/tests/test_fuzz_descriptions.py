"""Property and fuzz tests of the compiler: hostile descriptions and node definitions.

Each example starts from a valid three-tier description with its node definitions (the
one the other compiler tests use) and mutates it: a value replaced by a wrong type, a key
deleted or added, a node duplicated, a cycle or a missing type added, raw YAML (tags,
includes, aliases) spliced in, a template replaced. Every example must end in a
``StaticDescription`` or in ``CompileErrors`` whose every error names its file and line,
within a wall-clock deadline and a memory budget, writing nothing.

CI runs a modest number of examples; ``OCCO_FUZZ=long`` runs many more (docs/dev/fuzzing.rst).
"""

from __future__ import annotations

import copy
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PLUGINS, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from occo.compiler import CompileErrors, StaticDescription, compile_infrastructure

# CI: the same examples every run (derandomize), so a red CI is a change, not luck; the
# long mode draws new ones each time. The wall-clock bound below is the time check, so
# hypothesis's own deadline is off (a loaded CI machine is not a slow compiler).
settings.register_profile("occo-fuzz-ci", max_examples=60, deadline=None, database=None,
                          derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile("occo-fuzz-long", max_examples=2000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
FUZZ = settings.get_profile("occo-fuzz-long" if os.environ.get("OCCO_FUZZ") == "long"
                            else "occo-fuzz-ci")

WALL_SECONDS = 5.0               # one compile of a small hostile input
PEAK_BYTES = 64 * 1024 * 1024    # Python allocations during one compile

DESCRIPTION: dict[str, Any] = {
    "infra_name": "shop", "user_id": "me@example.org",
    "variables": {"greeting": "hello", "db": {"name": "shop", "port": 3306,
                                              "options": ["a", "b"]}},
    "nodes": [
        {"name": "db", "type": "db_node"},
        {"name": "web", "type": "web_node", "scaling": {"min": 2, "max": 5},
         "filter": {"zone": "b"}, "variables": {"greeting": "hi"},
         "attributes": {"port": 8080}},
        {"name": "lb", "type": "cache_node", "scaling": {"min": 0}, "create_timeout": 300},
    ],
    "dependencies": [["web", "db"],
                     {"connection": ["lb", "web"],
                      "mappings": [["fqdn", "backend.host"],
                                   {"attributes": ["port", "backend.port"], "synch": True}]}],
}
DEFINITIONS: dict[str, Any] = {
    "node_def:db_node": [{"resource": {"type": "dummy", "zone": "a"},
                          "health_check": {"ports": [3306]}}],
    "node_def:web_node": [
        {"resource": {"type": "dummy", "zone": "a"},
         "contextualisation": {"type": "cloudinit", "context_template":
                               "#cloud-config\nruncmd: [\"echo {{ variables.greeting }}\"]\n"}},
        {"resource": {"type": "dummy", "zone": "b"}}],
    "node_def:cache_node": [{"resource": {"type": "dummy"}}],
}

#: YAML text spliced in where a value was; each must be refused or taken, never crash
RAW = [
    "9" * 5000, "-" + "9" * 30, ".nan", "-.inf", "0x_ff", "1e400", "~", "!!binary AAAA",
    "!!timestamp 2001-12-14", "!!set {a, b}", "!!omap [a: 1]", "!!python/object:os.system {}",
    "!!python/object/apply:os.system ['touch SIDE_EFFECT']", "!!python/name:os.system",
    "!yaml_import {url: 'file://missing.yaml'}", "!yaml_import {url: 'file:///etc/passwd'}",
    "!yaml_import {url: 'file://../../../../etc/hostname'}", "!yaml_import {url: 'file://.'}",
    "!yaml_import {url: 'file://infra.yaml'}", "!text_import {url: 'file:///etc/hostname'}",
    "!text_import {url: 'file://nodes'}", "!text_import {}", "!yaml_import {url: \"file://a\\0\"}",
    "!text_import {url: 'file://" + "x" * 300 + "'}", "!yaml_import 42", "!no_such_tag x",
    "*nowhere", "&a [*a]", "&b {k: *b}", "\"\\x00\"", "\"\\ud800\"", "'\u202e\u0000'",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "{? [a]: b}", "!!str", "!!int abc", "!!float x", "!!bool maybe", "!!null 3",
]
TEMPLATES = [
    "{{ 9**9**9 }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ undefined_name }}",
    "{% for i in range(10**9) %}x{% endfor %}", "{{ 'x' * 10**9 }}", "{{", "{% if %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ getip('nowhere') }}",
    "{{ getprivip(1) }}", "{{ variables.db.options|join('x' * 1000) }}", "{{ 10**4400 }}",
    "{% set x = 'a' ~ 'b' %}{{ x|format(x) }}", "{{ cycler.__init__.__globals__ }}",
]
TOKEN = "RAWTOKEN{}X"


def hostile_values() -> st.SearchStrategy[Any]:
    """Values of every wrong type, and raw YAML text (a token replaced after dumping)."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
        st.text(min_size=2000, max_size=3000, alphabet="ab\u00e9\u4e2d"),
        st.sampled_from(["", " ", "\u0000", "db", "web", "node_def:x", "../x", "-1", "1e3",
                         "yes", "no", "null", "\u00e9\u4e2d\U0001f600"]),
        st.integers(0, len(RAW) - 1).map(TOKEN.format))
    return st.recursive(scalars, lambda kids: st.one_of(
        st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=8), kids, max_size=3)),
        max_leaves=6)


def paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``tree`` (dict keys and list indices)."""
    found = [prefix]
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) \
        if isinstance(tree, list) else ()
    for key, child in items:
        found += paths(child, prefix + (key,))
    return found


def _parent(tree: Any, path: tuple) -> tuple[Any, Any]:
    for key in path[:-1]:
        tree = tree[key]
    return tree, path[-1]


@st.composite
def mutated(draw: Any) -> tuple[dict, dict]:
    """The valid description and definitions with one to three hostile changes."""
    trees = [copy.deepcopy(DESCRIPTION), copy.deepcopy(DEFINITIONS)]
    for _ in range(draw(st.integers(1, 3))):
        tree = trees[draw(st.integers(0, 1))]
        path = draw(st.sampled_from(paths(tree)[1:]))
        parent, key = _parent(tree, path)
        op = draw(st.sampled_from(["replace", "delete", "add", "duplicate", "cycle",
                                   "type", "scaling", "template"]))
        if op == "replace":
            parent[key] = draw(hostile_values())
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.text(max_size=12))] = draw(hostile_values())
        elif op == "add" and isinstance(parent[key], list):
            parent[key].append(draw(hostile_values()))
        elif op == "duplicate" and isinstance(trees[0].get("nodes"), list) and trees[0]["nodes"]:
            trees[0]["nodes"].append(copy.deepcopy(draw(st.sampled_from(trees[0]["nodes"]))))
        elif op == "cycle" and isinstance(trees[0].get("dependencies"), list):
            trees[0]["dependencies"].append(draw(st.sampled_from(
                [["db", "web"], ["db", "lb"], ["web", "web"], ["db", "ghost"]])))
        elif op == "type" and isinstance(trees[0].get("nodes"), list) and trees[0]["nodes"]:
            node = draw(st.sampled_from(trees[0]["nodes"]))
            if isinstance(node, dict):
                node["type"] = draw(st.sampled_from(["missing_node", "", "node_def:db_node",
                                                     "db_node ", "DB_NODE"]))
        elif op == "scaling" and isinstance(trees[0].get("nodes"), list) and trees[0]["nodes"]:
            node = draw(st.sampled_from(trees[0]["nodes"]))
            if isinstance(node, dict):
                big = st.integers(min_value=-2 ** 64, max_value=2 ** 64)
                node["scaling"] = draw(st.fixed_dictionaries(
                    {}, optional={"min": st.one_of(big, hostile_values()),
                                  "max": st.one_of(big, hostile_values())}))
        elif op == "template":
            web = trees[1].get("node_def:web_node")
            if isinstance(web, list) and web and isinstance(web[0], dict) \
                    and isinstance(web[0].get("contextualisation"), dict):
                web[0]["contextualisation"]["context_template"] = draw(st.one_of(
                    st.sampled_from(TEMPLATES), st.text(max_size=60)))
    return trees[0], trees[1]


def dump(tree: Any) -> str:
    """YAML text of ``tree`` (anchors for shared values) with the raw tokens spliced in."""
    text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False, width=10_000)
    for i in reversed(range(len(RAW))):
        text = text.replace(TOKEN.format(i), RAW[i])
    return text


def compile_bounded(root: Path) -> StaticDescription | CompileErrors:
    """Compile root/infra.yaml within WALL_SECONDS and PEAK_BYTES; the result or errors."""
    tracemalloc.start()
    start = time.monotonic()
    try:
        return compile_infrastructure(root / "infra.yaml", **PLUGINS)
    except CompileErrors as exc:
        return exc
    finally:
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert elapsed < WALL_SECONDS, f"compile took {elapsed:.1f}s"
        assert peak < PEAK_BYTES, f"compile allocated {peak} bytes at its peak"


def assert_located(errors: CompileErrors, root: Path) -> None:
    """Every error names a file under ``root`` (or one it refused to read) and a line."""
    assert errors.errors
    for err in errors.errors:
        where = err.location
        assert where is not None and where.file, f"unlocated: {err!r}"
        assert where.line is not None or "not found" in err.message \
            or "outside" in err.message or "bytes" in err.message, f"no line: {err}"
        assert str(where) in str(err)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@FUZZ
@given(trees=mutated())
def test_hostile_descriptions_give_a_model_or_located_errors(tmp_path_factory, trees):
    root = tmp_path_factory.mktemp("fuzz")
    write_tree(root, {"infra.yaml": dump(trees[0]),
                      "nodes/node_definitions.yaml": dump(trees[1])})
    before = snapshot(root)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = compile_bounded(root)
    finally:
        os.chdir(cwd)
    if isinstance(result, CompileErrors):
        assert_located(result, root)
        assert result.exit_code == 2
    else:
        assert isinstance(result, StaticDescription)
        assert result.to_dict()["nodes"]
    assert snapshot(root) == before  # nothing written, not even SIDE_EFFECT


@st.composite
def benign(draw: Any) -> tuple[dict, dict]:
    """Valid changes only: scaling in range, any printable names and variables."""
    desc = copy.deepcopy(DESCRIPTION)
    low = draw(st.integers(0, 50))
    desc["nodes"][1]["scaling"] = {"min": low, "max": draw(st.integers(max(low, 1), 100))}
    desc["nodes"][2]["create_timeout"] = draw(st.integers(1, 86400))
    name = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
    desc["infra_name"] = draw(name)
    desc["variables"]["extra"] = draw(st.dictionaries(
        name, st.one_of(st.integers(-1000, 1000), st.text(max_size=20), st.booleans()),
        max_size=4))
    return desc, copy.deepcopy(DEFINITIONS)


@FUZZ
@given(trees=benign())
def test_valid_variations_compile(tmp_path_factory, trees):
    root = tmp_path_factory.mktemp("good")
    write_tree(root, {"infra.yaml": dump(trees[0]),
                      "nodes/node_definitions.yaml": dump(trees[1])})
    result = compile_bounded(root)
    assert isinstance(result, StaticDescription), str(result)
    assert result.infra_name == trees[0]["infra_name"]
    web = next(n for n in result.nodes if n.name == "web")
    assert (web.scaling.min, web.scaling.max) == tuple(trees[0]["nodes"][1]["scaling"].values())


def test_the_unmutated_base_compiles(tmp_path):
    write_tree(tmp_path, {"infra.yaml": dump(DESCRIPTION),
                          "nodes/node_definitions.yaml": dump(DEFINITIONS)})
    result = compile_bounded(tmp_path)
    assert isinstance(result, StaticDescription)
    assert [n.name for n in result.nodes] == ["db", "web", "lb"]


# Defects the fuzzing found, each with its concrete input.

def _web_template(root: Path, template: str) -> CompileErrors | StaticDescription:
    defs = copy.deepcopy(DEFINITIONS)
    defs["node_def:web_node"][0]["contextualisation"]["context_template"] = template
    write_tree(root, {"infra.yaml": dump(DESCRIPTION),
                      "nodes/node_definitions.yaml": dump(defs)})
    return compile_bounded(root)


@pytest.mark.parametrize("template, message", [
    ("{{ 1|nosuch }}", "template syntax error at template line 1: No filter named 'nosuch'."),
    ("{{ 1 is nosuch }}", "template syntax error at template line 1: No test named 'nosuch'."),
    ("{{ " + "9" * 5000 + " }}", "template cannot be read: Exceeds the limit (4300 digits)"),
    ("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "template nested too deeply"),
])
def test_unreadable_templates_are_located_errors(tmp_path, template, message):
    result = _web_template(tmp_path, template)
    assert isinstance(result, CompileErrors)
    (err,) = result.errors
    assert err.message.startswith(message)
    assert err.location.file == str(tmp_path / "nodes" / "node_definitions.yaml")
    assert err.location.path == "node_def:web_node[0].contextualisation.context_template"
    assert err.location.line is not None


@pytest.mark.parametrize("template", ["{{ 10**4400 }}", "{{ 9**99999999 }}",
                                      "{{ 'x' * 1000000000 }}",
                                      "{{ 'x'|center(1000000000) }}"])
def test_costly_constant_expressions_are_not_computed_at_validate(tmp_path, template):
    # Jinja2 folds constants while generating code: these ran (or raised Python's
    # int-to-str ValueError) during validate; they are the render sandbox's concern.
    result = _web_template(tmp_path, template)
    assert isinstance(result, StaticDescription), str(result)


@pytest.mark.parametrize("raw, message", [
    ("9" * 5000, "invalid YAML: not an integer: Exceeds the limit (4300 digits)"),
    ("!!int abc", "invalid YAML: not an integer: invalid literal for int()"),
    ("!!float x", "invalid YAML: not a number: could not convert string to float: 'x'"),
    ("!!bool maybe", "invalid YAML: not a boolean: 'maybe'"),
])
def test_scalars_python_cannot_read_are_located_yaml_errors(tmp_path, raw, message):
    # these raised ValueError / KeyError out of PyYAML's constructors: a traceback
    write_tree(tmp_path, {"infra.yaml": dump(DESCRIPTION).replace("port: 3306", f"port: {raw}"),
                          "nodes/node_definitions.yaml": dump(DEFINITIONS)})
    result = compile_bounded(tmp_path)
    assert isinstance(result, CompileErrors)
    (err,) = result.errors
    assert type(err).__name__ == "YAMLSyntaxError"
    assert err.message.startswith(message), err.message
    assert (err.location.file, err.location.line) == (str(tmp_path / "infra.yaml"), 7)


def test_a_nul_in_a_file_name_is_a_located_error(tmp_path):
    # Path.resolve() raised "ValueError: embedded null byte": a traceback from validate
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(str(tmp_path / "a\x00b.yaml"), **PLUGINS)
    (err,) = caught.value.errors
    assert err.message == "a file name cannot contain a NUL character (shown as \\x00)"
    assert err.location.file == str(tmp_path / "a\\x00b.yaml")
    write_tree(tmp_path, {"infra.yaml": dump(DESCRIPTION)})
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(tmp_path / "infra.yaml", ["defs\x00.yaml"], **PLUGINS)
    assert caught.value.errors[0].location.file == "defs\\x00.yaml"


@pytest.mark.parametrize("url, message", [
    ("a\x00b.yaml", "!yaml_import: a file name cannot contain a NUL character (shown as \\x00)"),
    ("x" * 300 + ".yaml", "!yaml_import: cannot be read (File name too long)"),
])
def test_include_names_no_system_call_takes_are_located_errors(tmp_path, url, message):
    # ValueError (embedded null byte) and OSError (ENAMETOOLONG) escaped the loader
    infra = dump(DESCRIPTION).replace("hello", f"!yaml_import {{url: 'file://{url}'}}")
    write_tree(tmp_path, {"infra.yaml": infra.replace("\x00", "\\0").replace("'file", '"file')
                          .replace(".yaml'}", '.yaml"}'),
                          "nodes/node_definitions.yaml": dump(DEFINITIONS)})
    result = compile_bounded(tmp_path)
    assert isinstance(result, CompileErrors)
    (err,) = result.errors
    assert err.message.startswith(message), err.message
    assert (err.location.file, err.location.line) == (str(tmp_path / "infra.yaml"), 4)


def test_a_description_name_too_long_for_the_system_is_a_located_error(tmp_path):
    with pytest.raises(CompileErrors) as caught:
        compile_infrastructure(str(tmp_path / ("9" * 5000)), **PLUGINS)
    (err,) = caught.value.errors
    assert err.message.startswith("cannot be read (File name too long): ")
    assert err.location.file == str(tmp_path / ("9" * 5000))
