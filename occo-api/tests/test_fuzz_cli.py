"""Property and fuzz tests of the ``occo`` command, run in-process.

Hostile option values (ids, names, counts, positions, paths) on status, events, scale,
destroy and plan, and hostile descriptions on validate, plan and build, against a SQLite
store that already holds one built infrastructure. For every example: no traceback (no
exception but SystemExit leaves ``main``), exit 0 or 2, a located message for a bad
description, bounded wall-clock time and memory, and after exit 2 the store's rows exactly
as before.

CI runs a modest number of examples; ``OCCO_FUZZ=long`` runs many more (docs/dev/fuzzing.rst).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import shutil
import sqlite3
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e import Setup
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from occo.api.cli import main

_COMMON = dict(deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# CI: the same examples every run (derandomize); the long mode draws new ones each time
settings.register_profile("occo-fuzz-cli-ci", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("occo-fuzz-cli-long", max_examples=500, **_COMMON)
FUZZ = settings.get_profile("occo-fuzz-cli-long" if os.environ.get("OCCO_FUZZ") == "long"
                            else "occo-fuzz-cli-ci")

WALL_SECONDS = 20.0              # one command (hypothesis' deadline is off: builds vary)
PEAK_BYTES = 128 * 1024 * 1024   # Python allocations during one command

DUMMY = [{"resource": {"type": "dummy", "create_latency": 0}}]
DESCRIPTION: dict[str, Any] = {
    "infra_name": "fuzz",
    "variables": {"greeting": "hello", "port": 8080},
    "nodes": [{"name": "db", "type": "t"},
              {"name": "web", "type": "t", "scaling": {"min": 1, "max": 3}}],
    "dependencies": [["web", "db"]],
}
DEFINITIONS = {"node_def:t": DUMMY}


def write(directory: Path, description: Any, definitions: Any = DEFINITIONS) -> Path:
    (directory / "nodes").mkdir(parents=True, exist_ok=True)
    (directory / "nodes" / "node_definitions.yaml").write_text(
        yaml.safe_dump(definitions, allow_unicode=True))
    infra = directory / "infra.yaml"
    infra.write_text(description if isinstance(description, str)
                     else yaml.safe_dump(description, allow_unicode=True, sort_keys=False))
    return infra


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Setup, str]:
    """One set-up whose store holds the infrastructure ``fuzz``, built; and its id."""
    setup = Setup(tmp_path_factory.mktemp("built"))
    setup.write_config()
    infra = write(setup.root / "d", DESCRIPTION)
    code, out, err = occo(setup, "build", str(infra), "--json")
    assert code == 0, err
    code, out, err = occo(setup, "list", "--json")
    listed = json.loads(out)
    assert code == 0 and [i["status"] for i in listed] == ["ready"], out
    return setup, listed[0]["infra_id"]


@pytest.fixture
def fresh(built, tmp_path_factory) -> tuple[Setup, str]:
    """A copy of the built set-up (its state file and the dummy cloud's) per example."""
    setup, infra_id = built
    copy_ = Setup(tmp_path_factory.mktemp("copy"))
    copy_.write_config()
    for name in ("state.sqlite", "dummy.sqlite"):
        if (setup.root / name).exists():
            shutil.copy(setup.root / name, copy_.root / name)
    return copy_, infra_id


def occo(setup: Setup, *argv: str) -> tuple[int, str, str]:
    """``occo --config ... argv`` in-process: (exit status, stdout, stderr), bounded."""
    out, err = io.StringIO(), io.StringIO()
    tracemalloc.start()
    start = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["--config", str(setup.config_file), *argv])
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < WALL_SECONDS, f"occo {argv!r} took {elapsed:.1f}s"
    assert peak < PEAK_BYTES, f"occo {argv!r} allocated {peak} bytes at its peak"
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return code, out.getvalue(), err.getvalue()


def rows(state: Path) -> dict[str, list]:
    """Every row of every table of the SQLite store (empty when there is no file)."""
    if not state.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"'))) for t in tables}


def check(setup: Setup, *argv: str) -> tuple[int, str]:
    """Run the command; exit 0 or 2, and after 2 the store unchanged. (code, stderr)"""
    before = rows(setup.state)
    code, _, err = occo(setup, *argv)
    assert code in (0, 2), f"occo {argv!r} exited {code}: {err}"
    if code == 2:
        assert err.strip(), "a refusal says why"
        assert "error" in err, err
        assert rows(setup.state) == before, f"occo {argv!r} refused but changed the store"
    return code, err


# -- option values ---------------------------------------------------------------------

texts = st.one_of(st.text(max_size=40), st.text(alphabet="0123456789+-. \u0663\uff10",
                                                max_size=25),
                  st.integers(min_value=-2 ** 80, max_value=2 ** 80).map(str),
                  st.sampled_from(["", "-", "--", "-1", "nan", "inf", "1e3", "0x10", "\x00",
                                   "9" * 5000, "\u202e", "fuzz", "db", "web", "../x"]))
numbers = st.one_of(texts, st.integers(-5, 20).map(str))


def ids(infra_id: str) -> st.SearchStrategy[str]:
    """Ids that are wrong, and near misses of the real one (prefixes, case, padding)."""
    return st.one_of(texts, st.integers(0, len(infra_id)).map(lambda n: infra_id[:n]),
                     st.sampled_from([infra_id.upper(), f" {infra_id}", infra_id + "0",
                                      infra_id[:3], infra_id.replace("-", "")]))


@st.composite
def read_commands(draw: Any, infra_id: str) -> list[str]:
    which = draw(st.sampled_from(["status", "events", "plan", "graph", "list"]))
    argv = [which]
    if which != "list" and draw(st.booleans()):
        argv += ["-i", draw(ids(infra_id))]
    if which == "events":
        for option in ("--after", "--limit"):
            if draw(st.booleans()):
                argv += [option, draw(numbers)]
    return argv + (["--json"] if draw(st.booleans()) else [])


@FUZZ
@given(data=st.data())
def test_read_commands_take_any_option_value_without_a_traceback(fresh, data):
    setup, infra_id = fresh
    argv = data.draw(read_commands(infra_id))
    before = rows(setup.state)
    code, err = check(setup, *argv)
    if argv[0] in ("status", "events", "graph", "list"):
        assert rows(setup.state) == before   # reading writes nothing, whatever the answer


@st.composite
def write_commands(draw: Any, infra_id: str) -> list[str]:
    which = draw(st.sampled_from(["scale", "destroy"]))
    argv = [which, "-i", draw(ids(infra_id))]
    if which == "scale":
        argv += ["-n", draw(st.one_of(texts, st.sampled_from(["web", "db"])))]
        argv += [draw(st.sampled_from(["-c", "-s", "-f"])), draw(numbers)]
        argv += ["--queue-only"] if draw(st.booleans()) else []
    return argv


@FUZZ
@given(data=st.data())
def test_write_commands_refused_change_nothing(fresh, data):
    setup, infra_id = fresh
    check(setup, *data.draw(write_commands(infra_id)))


# -- descriptions ----------------------------------------------------------------------

hostile = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(), texts,
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                         max_size=2))


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) \
        if isinstance(tree, list) else ()
    for key, child in items:
        found += _paths(child, prefix + (key,))
    return found


@st.composite
def bad_descriptions(draw: Any) -> Any:
    """The description with one hostile change; or raw hostile YAML text."""
    desc = copy.deepcopy(DESCRIPTION)
    path = draw(st.sampled_from(_paths(desc)[1:]))
    parent = desc
    for key in path[:-1]:
        parent = parent[key]
    op = draw(st.sampled_from(["replace", "delete", "scaling", "raw", "cycle"]))
    if op == "replace":
        parent[path[-1]] = draw(hostile)
    elif op == "delete":
        del parent[path[-1]]
    elif op == "scaling":
        big = st.integers(-2 ** 64, 2 ** 64)
        desc["nodes"][1]["scaling"] = {"min": draw(big), "max": draw(big)}
    elif op == "cycle":
        desc["dependencies"].append(["db", "web"])
    else:
        return yaml.safe_dump(desc).replace("hello", draw(st.sampled_from([
            "!!python/object/apply:os.system ['touch SIDE_EFFECT']", "*nowhere", "&a [*a]",
            "!yaml_import {url: 'file:///etc/passwd'}", "!text_import {url: 'file://..'}",
            "!yaml_import {url: 'file://infra.yaml'}", "9" * 5000, "!!float x", "\"\\0\""])))
    return desc


def assert_located(err: str, infra: Path) -> None:
    """The message names the description or its node definitions, with a line number."""
    files = "|".join(re.escape(str(p)) for p in (infra, infra.parent / "nodes"
                                                  / "node_definitions.yaml"))
    assert re.search(rf"({files}):\d+", err), f"no file:line in: {err}"


@FUZZ
@given(description=bad_descriptions(), command=st.sampled_from(["validate", "plan", "build"]))
def test_bad_descriptions_are_refused_before_anything_is_created(fresh, description,
                                                                 command):
    setup, _ = fresh
    infra = write(setup.root / "d", description)
    code, err = check(setup, "validate", str(infra))
    assume(code == 2)  # some changes leave a valid description; those are for other tests
    assert_located(err, infra)
    if command != "validate":
        dummy = (setup.root / "dummy.sqlite").read_bytes()
        code, err = check(setup, command, str(infra))
        assert code == 2
        assert_located(err, infra)
        assert (setup.root / "dummy.sqlite").read_bytes() == dummy  # no cloud resource
    assert not (setup.root / "d" / "SIDE_EFFECT").exists()


@FUZZ
@given(path=st.one_of(texts, st.sampled_from(["/", ".", "/dev/null", "/etc/passwd",
                                               "/proc/self/mem", "nodes", "a\x00b.yaml"])),
       command=st.sampled_from(["validate", "plan", "build"]))
def test_bad_description_paths_are_refused_with_the_path_named(fresh, path, command):
    setup, _ = fresh
    code, err = check(setup, command, path)
    assert code == 2, err


@FUZZ
@given(low=st.integers(0, 3), extra=st.integers(0, 3), greeting=st.text(max_size=30))
def test_valid_descriptions_validate_and_plan(fresh, low, extra, greeting):
    setup, _ = fresh
    desc = copy.deepcopy(DESCRIPTION)
    desc["nodes"][1]["scaling"] = {"min": low, "max": max(low, 1) + extra}
    desc["variables"]["greeting"] = greeting
    infra = write(setup.root / "d", desc)
    for command in ("validate", "plan"):
        code, err = check(setup, command, str(infra))
        assert code == 0, err


@pytest.mark.parametrize("argv", [["validate", "a\x00b.yaml"], ["build", "a\x00b.yaml"],
                                  ["plan", "a\x00b.yaml"], ["import", "defs\x00.yaml"]])
def test_a_nul_in_a_file_name_is_refused_naming_it(fresh, argv):
    # found by the fuzzing: "ValueError: embedded null byte" and a traceback
    setup, _ = fresh
    code, err = check(setup, *argv)
    assert code == 2
    assert err.startswith("occo: error: 1 error:\n")
    assert "\\x00" in err and "a file name cannot contain a NUL character" in err


@pytest.mark.parametrize("command", ["validate", "plan", "build"])
def test_a_description_name_too_long_is_refused_naming_it(fresh, command):
    # found by the fuzzing: "OSError: [Errno 36] File name too long" and a traceback
    setup, _ = fresh
    code, err = check(setup, command, "9" * 5000)
    assert code == 2
    assert "cannot be read (File name too long): " + "9" * 5000 in err
