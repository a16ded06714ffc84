"""`occo graph`: the dependency graph with each node's instance counts per state, as DOT,
JSON, and SVG/PNG drawn by Graphviz (exit 2, saying so, when it is not installed)."""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from e2e import Setup, write_description

from occo.api.cli import main
from occo.api.errors import UsageError
from occo.api.graph import HEALTH_COLOURS, graph_data, render, to_dot
from occo.util import OccoError
from occo.util.testing.debian import ensure_program

# the CI machine installs Graphviz (as occo-demo's docs test does), so these run there
DOT = shutil.which("dot") if ensure_program("dot", "graphviz") else None
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed "
                               "(apt-get install graphviz); --format svg/png need it")
SVG = "{http://www.w3.org/2000/svg}"
DUMMY = [{"resource": {"type": "dummy", "create_latency": 0.01}}]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A built infrastructure whose nodes are in every health: db ready, web with one
    ready, one failed and one being dropped, cache starting, spare (min 0) empty."""
    root = tmp_path_factory.mktemp("shop")
    setup = Setup(root)
    setup.write_config()
    infra = write_description(root / "d", "shop", {
        "db": {"type": "postgres"}, "web": {"type": "nginx", "scaling": {"min": 3, "max": 5}},
        "cache": {"type": "redis"}, "spare": {"type": "redis", "scaling": {"min": 0, "max": 2}}},
        [("web", "db"), ("web", "cache"), ("cache", "db")],
        {t: DUMMY for t in ("postgres", "nginx", "redis")})
    with setup.occo() as occo:
        infra_id = occo.build(infra)["infra_id"]
        mine = {}
        for rec in occo.store.list_instances(infra_id):
            mine.setdefault(rec.node_name, []).append(rec.instance_id)
        assert len(mine["web"]) == 3 and "spare" not in mine
        # as a maintenance pass and a scale-down would have recorded them
        occo.store.update_instance(mine["web"][1], state="failed",
                                   failure={"reason": "the process died"})
        occo.store.update_instance(mine["web"][2], intent="dropping")
        occo.store.update_instance(mine["cache"][0], state="starting")
    return setup, infra_id


def occo_cli(setup: Setup, *args: str) -> int:
    return main(["--config", str(setup.config_file), *args])


def test_the_dot_names_every_node_its_counts_per_state_and_the_edges(shop, capsys):
    setup, infra_id = shop
    assert occo_cli(setup, "graph", "-i", "shop") == 0
    dot = capsys.readouterr().out
    lines = dot.splitlines()
    assert lines[0] == 'digraph "shop" {' and lines[-1] == "}"
    assert f'label="shop ({infra_id}): ready\\narrows point from a node to the node it ' \
           'depends on";' in dot
    boxes = [line.strip() for line in lines if " [label=" in line]
    assert boxes == [
        f'"db" [label="db\\npostgres\\n1/1 (1-1)\\n1 ready", '
        f'fillcolor="{HEALTH_COLOURS["ready"]}"];',
        f'"web" [label="web\\nnginx\\n1/3 (3-5)\\n1 ready, 1 failed, 1 dropping", '
        f'fillcolor="{HEALTH_COLOURS["failing"]}"];',
        f'"cache" [label="cache\\nredis\\n0/1 (1-1)\\n1 starting", '
        f'fillcolor="{HEALTH_COLOURS["building"]}"];',
        f'"spare" [label="spare\\nredis\\n0/0 (0-2)\\nno instances", '
        f'fillcolor="{HEALTH_COLOURS["none"]}"];']
    assert len(set(HEALTH_COLOURS.values())) == 4
    # dependent -> dependency, as written in the description's dependencies
    assert [line.strip() for line in lines if "->" in line] == [
        '"web" -> "db";', '"web" -> "cache";', '"cache" -> "db";']


def test_json_gives_the_nodes_with_their_counts_and_the_edges(shop, capsys, tmp_path):
    setup, infra_id = shop
    assert occo_cli(setup, "graph", "-i", infra_id[:6], "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["infra_id"] == infra_id and data["name"] == "shop"
    nodes = {n["name"]: n for n in data["nodes"]}
    assert list(nodes) == ["db", "web", "cache", "spare"]
    assert nodes["web"] == {"name": "web", "type": "nginx", "ready": 1, "wanted": 3, "min": 3,
                            "max": 5, "states": {"ready": 1, "failed": 1, "dropping": 1},
                            "health": "failing"}
    assert nodes["cache"]["states"] == {"starting": 1} and nodes["cache"]["health"] == "building"
    assert nodes["spare"]["states"] == {} and nodes["spare"]["health"] == "none"
    assert nodes["db"]["health"] == "ready"
    assert data["edges"] == [{"dependent": "web", "dependency": "db"},
                             {"dependent": "web", "dependency": "cache"},
                             {"dependent": "cache", "dependency": "db"}]
    written = tmp_path / "graph.json"
    assert occo_cli(setup, "graph", "-i", "shop", "--json", "-o", str(written)) == 0
    assert capsys.readouterr().out == "" and json.loads(written.read_text()) == data


def test_without_i_the_only_infrastructure_is_drawn_and_named(shop, capsys):
    setup, infra_id = shop
    assert occo_cli(setup, "graph") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith('digraph "shop" {')
    assert f"using infrastructure shop ({infra_id}), the only one" in captured.err


def test_an_unknown_infrastructure_is_exit_2_and_writes_nothing(shop, capsys, tmp_path):
    setup, _ = shop
    target = tmp_path / "g.dot"
    assert occo_cli(setup, "graph", "-i", "shpo", "-o", str(target)) == 2
    captured = capsys.readouterr()
    assert "no infrastructure 'shpo' in the store" in captured.err
    assert "did you mean 'shop'?" in captured.err
    assert captured.out == "" and not target.exists()


@pytest.mark.parametrize("args, message", [
    (["-o", "g.pdf"], "cannot tell the graph format from the file name 'g.pdf'"),
    (["--json", "--format", "png", "-o", "g.png"], "--json writes the graph as JSON; it "
                                                    "cannot be --format png"),
    (["-o", "no/such/dir/g.dot"], "cannot write the graph to no/such/dir/g.dot"),
])
def test_bad_output_options_say_what_is_wrong(shop, capsys, tmp_path, monkeypatch, args,
                                              message):
    setup, _ = shop
    monkeypatch.chdir(tmp_path)
    status = occo_cli(setup, "graph", "-i", "shop", *args)
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert status == (1 if "cannot write" in message else 2)
    assert list(tmp_path.iterdir()) == []


def test_a_png_to_a_terminal_is_refused(shop, capsys, monkeypatch):
    class Terminal(io.TextIOWrapper):
        def isatty(self) -> bool:
            return True

    setup, _ = shop
    terminal = Terminal(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr("sys.stdout", terminal)
    assert occo_cli(setup, "graph", "-i", "shop", "--format", "png") == 2
    terminal.flush()
    assert terminal.buffer.getvalue() == b""
    assert "a PNG is not for a terminal: give -o FILE" in capsys.readouterr().err


def test_without_graphviz_svg_is_exit_2_and_dot_still_works(shop, capsys, tmp_path,
                                                            monkeypatch):
    setup, _ = shop
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
    assert occo_cli(setup, "graph", "-i", "shop", "-o", str(tmp_path / "g.svg")) == 2
    err = capsys.readouterr().err
    assert "--format svg needs Graphviz's dot program, which is not installed" in err
    assert "--format dot works without it" in err
    assert not (tmp_path / "g.svg").exists()
    assert occo_cli(setup, "graph", "-i", "shop", "--format", "dot") == 0
    assert capsys.readouterr().out.startswith('digraph "shop" {')


@needs_dot
def test_svg_and_png_are_drawn_by_graphviz(shop, capsys, tmp_path):
    setup, _ = shop
    assert occo_cli(setup, "graph", "-i", "shop", "--format", "svg") == 0
    svg = ET.fromstring(capsys.readouterr().out)
    groups = {g.get("class"): [] for g in svg.iter(f"{SVG}g")}
    for g in svg.iter(f"{SVG}g"):
        groups[g.get("class")].append(g.find(f"{SVG}title").text)
    assert sorted(groups["node"]) == ["cache", "db", "spare", "web"]
    assert sorted(groups["edge"]) == ["cache->db", "web->cache", "web->db"]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "1 ready, 1 failed, 1 dropping" in texts and "1/3 (3-5)" in texts
    fills = {p.get("fill") for p in svg.iter(f"{SVG}path")}
    assert {HEALTH_COLOURS[h] for h in ("ready", "failing", "building", "none")} <= fills
    assert occo_cli(setup, "graph", "-i", "shop", "-o", str(tmp_path / "g.png")) == 0
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("states, wanted, health", [
    (["ready", "ready"], 2, "ready"),
    (["ready"], 2, "building"),              # fewer ready than wanted
    (["ready", "starting"], 2, "building"),
    (["ready", "unhealthy"], 1, "failing"),
    (["failed", "pending"], 2, "failing"),
    ([], 0, "none"),
    ([], 3, "none"),
])
def test_the_health_of_a_node(states, wanted, health):
    status = {"infra_id": "i-1", "name": "x", "status": "ready", "nodes": [
        {"name": "n", "type": "t", "scaling": {"target": wanted, "min": 0, "max": 3},
         "instances": [{"state": s, "intent": "created"} for s in states]}]}
    [node] = graph_data(status, [])["nodes"]
    assert node["health"] == health
    assert f'fillcolor="{HEALTH_COLOURS[health]}"' in to_dot({**graph_data(status, []),
                                                              "nodes": [node]})


def hostile_status() -> dict:
    nodes = [{"name": 'we"b\\', "type": 'x\\Ny\n"z"', "scaling": {"target": 2, "min": 1,
                                                                   "max": 2},
              "instances": [{"state": "ready", "intent": "created"},
                            {"state": "unknown", "intent": "created"}]},
             {"name": "db", "type": "t", "scaling": {"target": 1, "min": 1, "max": 1},
              "instances": []}]
    return {"infra_id": "i-1", "name": 'a "quoted" infra', "status": "ready", "nodes": nodes}


def test_names_with_quotes_and_backslashes_are_escaped():
    data = graph_data(hostile_status(), [('we"b\\', "db"), ("db", "gone")])
    assert data["nodes"][0]["health"] == "building"   # unknown: not settled
    assert data["edges"] == [{"dependent": 'we"b\\', "dependency": "db"}]
    dot = to_dot(data)
    assert dot.startswith('digraph "a \\"quoted\\" infra" {\n')
    assert ('  "we\\"b\\\\" [label="we\\"b\\\\\\nx\\\\Ny\\n\\"z\\"\\n1/2 (1-2)\\n'
            '1 ready, 1 unknown", ') in dot
    assert '  "we\\"b\\\\" -> "db";\n' in dot


@needs_dot
def test_graphviz_draws_a_hostile_name_as_written():
    svg = ET.fromstring(render(to_dot(graph_data(hostile_status(), [('we"b\\', "db")])),
                               "svg"))
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert 'we"b\\' in texts                    # not cut at the quote, backslash kept
    assert "x\\Ny" in texts and '"z"' in texts  # \N is text, not the node's name
    assert len([g for g in svg.iter(f"{SVG}g") if g.get("class") == "node"]) == 2
    assert len([g for g in svg.iter(f"{SVG}g") if g.get("class") == "edge"]) == 1


def test_a_graphviz_failure_or_hang_is_an_error_with_its_reason(tmp_path, monkeypatch):
    sleep = shutil.which("sleep") or "/bin/sleep"
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OccoError) as info:
        render("digraph {}", "svg")
    assert not isinstance(info.value, UsageError) and info.value.exit_code == 1
    assert info.value.message == ("Graphviz's dot could not draw the graph: Error: syntax "
                                  "error in line 1")
    fake.write_text(f"#!/bin/sh\nexec {sleep} 60\n")
    with pytest.raises(OccoError) as info:
        render("digraph {}", "png", timeout=0.2)
    assert info.value.message == "Graphviz's dot did not draw the graph within 0.2 s"
