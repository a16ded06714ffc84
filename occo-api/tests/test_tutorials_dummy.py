"""Every Occopus tutorial, every infrastructure of OCCO's own corpus and the multi-tier
descriptions of compat/multitier/ build and destroy on the dummy cloud.

Each description is copied to tmp and every node definition's resource section becomes
``{type: dummy, create_latency: 0.01}``; contextualisation, config management and health
checks are kept, except the health checks that need a real network (``ping``, ``ports``,
``urls``, ``mysqldbs``: a dummy address is not reachable, so they would be skipped anyway).
A node's ``filter`` named keys of the old resources: each implementation it kept gets a
tag, and the filter asks for that tag, so the node keeps the same implementations. Include
tags (``!yaml_import``, ``!text_import``) are written back as they were, so the compiler
still reads the templates beside the definitions.

The Occopus tutorials are the optional corpus of ``OCCO_TUTORIALS`` (occo.util.testing);
without it those cases skip with the reason.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e import Setup, cloud_nodes

from occo.cloudhandler.dummy import DummyCloudHandler
from occo.compiler.choose import matches_filter
from occo.infobroker import NotFound
from occo.util import InputError, InputErrors
from occo.util.testing import CORPUS, tutorials, tutorials_missing

DUMMY = {"type": "dummy", "create_latency": 0.01}
NETWORK_CHECKS = ("ping", "ports", "urls", "mysqldbs")
MULTITIER = Path(__file__).resolve().parent / "compat" / "multitier"
FILTER_TAG = "occo-test-filter-"
RESOURCE_KEY = re.compile(r"\bresource\.([A-Za-z_]\w*)")

#: Descriptions that cannot build on the dummy cloud: the failure every node of them
#: must report instead, and why.
#:
#: ``config_management: chef``: OCCO refuses it before a build stores anything
#: (service-composer/occo/servicecomposer/configmanager.py, ChefConfigManager.unsupported,
#: asked by Occo.preflight), a deliberate difference: OCCO has no Chef server client.
#: Occopus 1.10 cannot do it
#: without a real Chef server either: occopus/config-manager
#: occo/plugins/configmanager/chef.py, ChefConfigManager.__init__ raises without the
#: server's auth_data, RegisterNode saves the node on the server, GetNodeState waits for
#: its ohai_time.
CHEF = "config_management type 'chef' is not supported by OCCO"
CANNOT_BUILD = {"chef-wordpress": CHEF, "wiki-chef": CHEF}


# ------------------------------------------------------------------ YAML with tags kept

class _Tagged:
    """A node under an include tag, written back unchanged."""

    def __init__(self, tag: str, node: yaml.Node, value: Any) -> None:
        self.tag, self.node, self.value = tag, node, value


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    pass


def _tagged(loader: _Loader, suffix: str, node: yaml.Node) -> _Tagged:
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return _Tagged("!" + suffix, node, value)


def _represent(dumper: _Dumper, data: _Tagged) -> yaml.Node:
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    return dumper.represent_scalar(data.tag, data.value)


_Loader.add_multi_constructor("!", _tagged)
_Dumper.add_representer(_Tagged, _represent)


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe)


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")


# ------------------------------------------------------------------ rewriting

def _old_resource_values(value: Any, resource: dict[str, Any]) -> Any:
    """``value`` with each ``resource.<key>`` a template reads replaced by the old
    resource's value as a literal: it renders the same, and the dummy resource has no
    such key."""
    if isinstance(value, str):
        return RESOURCE_KEY.sub(lambda m: repr(resource[m.group(1)]) if m.group(1) in resource
                                and not isinstance(resource[m.group(1)], (dict, list))
                                else m.group(0), value)
    if isinstance(value, dict):
        return {k: _old_resource_values(v, resource) for k, v in value.items()}
    if isinstance(value, list):
        return [_old_resource_values(v, resource) for v in value]
    return value


def _infra_file(directory: Path) -> Path:
    found = sorted(directory.glob("infra*.yaml"))
    assert len(found) == 1, f"{directory}: expected one infra*.yaml, found {found}"
    return found[0]


def to_dummy(source: Path, target: Path) -> Path:
    """Copy ``source`` to ``target`` with dummy resources; returns the infra file."""
    shutil.copytree(source, target)
    infra_path = _infra_file(target)
    defs_path = target / "nodes" / "node_definitions.yaml"
    definitions = _load(defs_path)
    infra = _load(infra_path)
    original = {key[len("node_def:"):]: [dict(impl.get("resource") or {}) for impl in impls]
                for key, impls in definitions.items()}
    for impls in definitions.values():
        for impl in impls:
            old = impl.get("resource") or {}
            for key in ("contextualisation", "config_management"):
                if key in impl:   # `resource.flavor_name` in a template: the old value
                    impl[key] = _old_resource_values(impl[key], old)
            impl["resource"] = dict(DUMMY)
            health = impl.get("health_check")
            if isinstance(health, dict):
                for key in NETWORK_CHECKS:
                    health.pop(key, None)
                if not health:
                    del impl["health_check"]
    changed = False
    for node in infra.get("nodes") or []:
        flt = node.get("filter")
        if not isinstance(flt, dict) or not flt or node.get("type") not in original:
            continue
        tag = FILTER_TAG + str(node["name"]).lower()
        impls = definitions[f"node_def:{node['type']}"]
        for impl, resource in zip(impls, original[node["type"]]):
            if matches_filter(resource, flt):
                impl["resource"].setdefault("tags", {})[tag] = "yes"
        node["filter"] = {"tags": {tag: "yes"}}
        changed = True
    _dump(defs_path, definitions)
    if changed:
        _dump(infra_path, infra)
    return infra_path


# ------------------------------------------------------------------ the cases

def _dirs(root: Path | None) -> list[Path]:
    if root is None or not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")
                  and (p / "nodes" / "node_definitions.yaml").is_file())


TUTORIALS = _dirs(tutorials())
OWN = _dirs(CORPUS)
TIERS = _dirs(MULTITIER)


@pytest.fixture
def setup(tmp_path) -> Setup:
    s = Setup(tmp_path / "occo")
    s.root.mkdir()
    s.write_config(processing={"health_timeout": 10})
    return s


@pytest.fixture
def contexts(monkeypatch) -> dict[str, dict[str, Any]]:
    """The rendered contextualisation each dummy node was created with, by node name."""
    seen: dict[str, dict[str, Any]] = {}
    new_node = DummyCloudHandler._new_node   # each node a create (or batch) makes

    def recording(self, spec, now):
        seen.setdefault(spec.node_name, {})[spec.instance_id] = spec.context
        return new_node(self, spec, now)

    monkeypatch.setattr(DummyCloudHandler, "_new_node", recording)
    return seen


def build_and_destroy(setup: Setup, infra: Path) -> dict[str, Any]:
    """Build ``infra``; check each node has its min instances, all ready; destroy; check
    nothing is left. Returns the status seen after the build."""
    with setup.occo() as occo:
        description = occo.validate(infra)
        result = occo.build(infra)
        assert result["status"] == "ready", result
        infra_id = result["infra_id"]
        status = occo.status(infra_id)
        for node in status["nodes"]:
            expected = description.node(node["name"]).scaling.min
            assert len(node["instances"]) == expected, node
            assert all(i["state"] == "ready" for i in node["instances"]), node
        stored = occo.store.get_infrastructure(infra_id).description
        assert len(cloud_nodes(setup, stored, infra_id)) == description.instances_at_min
        gone = occo.destroy(infra_id)
        assert gone["status"] == "destroyed", gone
        assert occo.store.list_infrastructures() == []
        with pytest.raises(NotFound):
            occo.store.list_instances(infra_id)
        assert cloud_nodes(setup, stored, infra_id) == []
    return status


def _cases(dirs: list[Path]) -> list[str]:
    return [p.name for p in dirs]


def build_or_fail_as_known(setup: Setup, name: str, infra: Path) -> None:
    if name not in CANNOT_BUILD:
        build_and_destroy(setup, infra)
        return
    with setup.occo() as occo:  # refused before anything is stored, naming file and line
        with pytest.raises((InputError, InputErrors)) as info:
            occo.build(infra)
        errors = getattr(info.value, "errors", None) or [info.value]
        assert all(CANNOT_BUILD[name] in e.message and e.location.line for e in errors), \
            [str(e) for e in errors]
        assert occo.store.list_infrastructures() == []


@pytest.mark.skipif(not TUTORIALS, reason=tutorials_missing() or "no tutorials found")
@pytest.mark.parametrize("name", _cases(TUTORIALS) or ["none"])
def test_an_occopus_tutorial_builds_and_destroys_on_dummy(setup, tmp_path, name):
    source = tutorials() / name
    build_or_fail_as_known(setup, name, to_dummy(source, tmp_path / name))


@pytest.mark.parametrize("name", _cases(OWN))
def test_an_own_corpus_infrastructure_builds_and_destroys_on_dummy(setup, tmp_path, name):
    build_or_fail_as_known(setup, name, to_dummy(CORPUS / name, tmp_path / name))


# ------------------------------------------------------------------ multi-tier

def _user_data(contexts: dict[str, dict[str, Any]], node: str) -> list[str]:
    return [str((c or {}).get("user_data") or (c or {}).get("env") or c)
            for c in contexts[node].values()]


def _addresses(status: dict[str, Any], node: str) -> list[str]:
    entry = next(n for n in status["nodes"] if n["name"] == node)
    return [a for i in entry["instances"] for a in i["addresses"]]


def test_the_multitier_descriptions_are_all_here():
    assert [p.name for p in TIERS] == ["extra-keys", "filters-scaling", "indirect-getip",
                                       "uppercase-names"]


@pytest.mark.parametrize("name", [p.name for p in TIERS])
def test_a_multitier_description_builds_and_destroys(setup, contexts, name):
    build_and_destroy(setup, MULTITIER / name / "infra.yaml")


def test_indirect_getip_renders_the_ancestors_address(setup, contexts):
    status = build_and_destroy(setup, MULTITIER / "indirect-getip" / "infra.yaml")
    db = _addresses(status, "db")
    app = _addresses(status, "app")
    assert len(db) == 1 and len(app) == 2
    for text in _user_data(contexts, "web"):
        assert f"database={db[0]}" in text          # the dependency's dependency
        line = next(ln for ln in text.splitlines() if "backends=" in ln)
        assert sorted(line.split("backends=")[1].split('"')[0].split(",")) == sorted(app)
    for text in _user_data(contexts, "app"):
        assert f"database={db[0]}" in text


def test_extra_keys_on_dependencies_and_mappings_are_kept(setup, contexts):
    infra = MULTITIER / "extra-keys" / "infra.yaml"
    with setup.occo() as occo:
        description = occo.validate(infra)
    edge = description.edge("consumer", "broker")
    assert dict(edge.extra) == {"note": "queue traffic"}
    assert [dict(m.extra) for m in edge.mappings] == [{"comment": "the port it listens on"}]
    status = build_and_destroy(setup, infra)
    broker = _addresses(status, "broker")
    for text in _user_data(contexts, "consumer"):
        assert f"broker={broker[0]}:5672" in text
    for text in _user_data(contexts, "monitor"):   # broker is its dependency's dependency
        assert f"watch={broker[0]}" in text


def test_uppercase_names_are_kept_and_resolved(setup, contexts):
    infra = MULTITIER / "uppercase-names" / "infra.yaml"
    status = build_and_destroy(setup, infra)
    assert status["name"] == "MyInfra"
    assert sorted(n["name"] for n in status["nodes"]) == ["GENERATOR", "Relay", "sink"]
    generator = _addresses(status, "GENERATOR")
    for text in _user_data(contexts, "sink"):        # GENERATOR is Relay's dependency
        assert f"source={generator[0]}" in text
    for text in _user_data(contexts, "Relay"):
        assert f"upstream={generator[0]}" in text


def test_filters_pick_one_implementation_and_scaling_min_is_built(setup, contexts):
    infra = MULTITIER / "filters-scaling" / "infra.yaml"
    with setup.occo() as occo:
        description = occo.validate(infra)
    assert [impl.resource["name"] for impl in description.node("fast").implementations] \
        == ["fast-cloud"]
    assert [impl.resource["name"] for impl in description.node("any").implementations] \
        == ["slow-cloud", "fast-cloud", "big-cloud"]
    assert description.node("fast").scaling.to_dict() == {"min": 3, "max": 5}
    status = build_and_destroy(setup, infra)
    counts = {n["name"]: n["scaling"] for n in status["nodes"]}
    assert counts["fast"] == {"actual": 3, "target": 3, "min": 3, "max": 5}
    assert counts["big"]["actual"] == 2 and counts["any"]["actual"] == 1
    head = _addresses(status, "head")
    for text in _user_data(contexts, "fast") + _user_data(contexts, "big"):
        assert f"head={head[0]}" in text


def test_a_node_receives_its_infrastructures_scaling_secret(setup, contexts, tmp_path):
    # Occopus's autoscaling tutorials curl the scale paths from inside a node: OCCO's
    # node gets the secret that authorises them (and only them) as `scaling_secret`
    infra = tmp_path / "scaler" / "infra.yaml"
    (infra.parent / "nodes").mkdir(parents=True)
    infra.write_text("infra_name: scaler\nnodes:\n  - {name: master, type: m}\n")
    (infra.parent / "nodes" / "node_definitions.yaml").write_text(
        "'node_def:m':\n  - resource: {type: dummy, create_latency: 0.01}\n"
        "    contextualisation:\n      type: cloudinit\n      context_template: |\n"
        "        runcmd:\n          - curl -X POST -H 'X-OCCO-Scaling-Secret: "
        "{{ scaling_secret }}' http://occo:5001/infrastructures/{{ infra_id }}/scaleup/w\n")
    with setup.occo() as occo:
        result = occo.build(infra)
        assert result["status"] == "ready", result
        secret = occo.store.scaling_secret(result["infra_id"])
        (text,) = _user_data(contexts, "master")
        assert f"X-OCCO-Scaling-Secret: {secret}' http://occo:5001/infrastructures/" \
               f"{result['infra_id']}/scaleup/w" in text
        status = repr(occo.status(result["infra_id"])) + repr(occo.events(result["infra_id"]))
        assert secret not in status
        occo.destroy(result["infra_id"])
