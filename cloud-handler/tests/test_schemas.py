"""Resource schemas: registered for the compiler, and every Occopus-format node definition
passes them: OCCO's own corpus (occo.util.testing) always, the Occopus tutorials when
OCCO_TUTORIALS names them (else those tests skip, with the reason)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from occo.cloudhandler import SCHEMAS, CloudHandler
from occo.cloudhandler.schemas import OCCOPUS_TYPES
from occo.util import Schema, load_yaml_file, load_yaml_text
from occo.util.testing import CORPUS, tutorials, tutorials_missing

TUTORIALS = tutorials()


def definitions_of(root: Path | None, label: str, at_least: int) -> list:
    """One param per node definitions file, or one skipped param saying why there is none."""
    if root is None:
        return [pytest.param(None, id=f"{label}-missing",
                             marks=pytest.mark.skip(reason=str(tutorials_missing())))]
    found = sorted(root.glob("*/nodes/node_definitions.yaml"))
    assert len(found) >= at_least, f"node definitions are missing under {root}"
    return [pytest.param(p, id=f"{label}:{p.parent.parent.name}") for p in found]


def resources(path: Path) -> list[tuple[str, int, dict, dict]]:
    """(node_def key, index, implementation, resource) of every implementation in ``path``."""
    out = []
    for key, implementations in load_yaml_file(path).items():
        assert str(key).startswith("node_def:")
        for i, impl in enumerate(implementations):
            out.append((key, i, impl, impl["resource"]))
    return out


def test_every_schema_is_registered_for_the_compiler():
    registered = {ep.name: ep.load() for ep in entry_points(group="occo.resource_schema")}
    assert registered == SCHEMAS
    assert all(isinstance(s, Schema) for s in registered.values())
    assert set(registered) == OCCOPUS_TYPES | {"dummy", "local"}


def test_every_backend_is_registered_with_its_schema():
    backends = {ep.name: ep.load() for ep in entry_points(group="occo.cloudhandler")}
    assert set(backends) == {"dummy", "local", "ec2", "docker", "nova"}
    for name, cls in backends.items():
        assert issubclass(cls, CloudHandler) and cls.type_name == name
        assert cls.schema is SCHEMAS[name]


@pytest.mark.parametrize("path", definitions_of(CORPUS, "corpus", 9)
                         + definitions_of(TUTORIALS, "tutorials", 12))
def test_every_occopus_format_resource_section_passes(path):
    checked = 0
    for key, i, impl, resource in resources(path):
        schema = SCHEMAS[resource["type"]]
        problems = schema.check(resource, f"{key}[{i}].resource", parent=impl, key="resource")
        assert problems == [], [str(p) for p in problems]
        checked += 1
    assert checked >= 1


def test_the_corpus_has_a_resource_of_every_schema():
    found: dict[str, int] = {}
    for path in CORPUS.glob("*/nodes/node_definitions.yaml"):
        for _, _, _, resource in resources(path):
            found[resource["type"]] = found.get(resource["type"], 0) + 1
    assert found == {"ec2": 9, "nova": 5, "docker": 2, "cloudsigma": 2, "dummy": 3,
                     "local": 2}
    assert set(found) <= set(SCHEMAS)  # cloudbroker and azure_* are checked in
    # test_occopus_schemas.py; the corpus holds real descriptions of the clouds used


def test_a_misspelt_key_is_located_and_the_right_one_suggested(tmp_path):
    defs = tmp_path / "node_definitions.yaml"
    defs.write_text("'node_def:web':\n  - resource:\n      type: ec2\n"
                    "      endpoint: https://ec2.example\n      regionnane: eu-west-1\n"
                    "      image_id: ami-1\n      instance_type: t3.small\n")
    impl = load_yaml_file(defs)["node_def:web"][0]
    problems = SCHEMAS["ec2"].check(impl["resource"], "'node_def:web'[0].resource",
                                    parent=impl, key="resource")
    messages = sorted(str(p) for p in problems)
    assert messages == [
        f"{defs}:3:7: 'node_def:web'[0].resource: missing required key 'regionname' "
        "(ec2 resource: a string)",
        f"{defs}:5:7: 'node_def:web'[0].resource.regionnane: unknown key 'regionnane' in ec2 "
        "resource; did you mean 'regionname'?"]


@pytest.mark.parametrize("text, message", [
    ("type: dummy\ncreate_latency: -1\n", "x.yaml:2:17: resource.create_latency: must be a "
                                          "number >= 0, got -1"),
    ("type: dummy\ncapacity: 2.5\n", "x.yaml:2:11: resource.capacity: must be an integer "
                                     ">= 0, got 2.5"),
    ("type: local\ncommand: {run: x}\n", "x.yaml:2:10: resource.command: must be a string or "
                                         "a list of strings, got a mapping"),
    ("type: local\ncommand: [ls, 3]\n", "x.yaml:2:10: resource.command: must be a string or a "
                                        "list of strings, got an item 3"),
    ("type: local\ncommand: x\ngrace_perod: 1\n", "x.yaml:3:1: resource.grace_perod: unknown "
                                                  "key 'grace_perod' in local resource; did "
                                                  "you mean 'grace_period'?"),
])
def test_dummy_and_local_keys_are_checked(text, message):
    data = load_yaml_text(text, source="x.yaml")
    [problem] = SCHEMAS[data["type"]].check(data, "resource")
    assert str(problem) == message


def test_templates_are_accepted_for_any_kind():
    data = {"type": "dummy", "capacity": "{{ variables.size }}"}
    assert SCHEMAS["dummy"].check(data, "resource") == []
