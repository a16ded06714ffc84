"""Occopus-format templates render with test values (FORMATS.md: compatibility).

Two corpora: OCCO's own (occo.util.testing.CORPUS, always) and the Occopus tutorials
(OCCO_TUTORIALS, optional: without them their tests skip, with the reason). The files are
read with occo.util's loader (include tags and all), as the compiler would, and each node
becomes a resolve request: variables merged (infrastructure, then node), the first
implementation its filter keeps, and every node of the infrastructure ready (as many
instances as its scaling minimum, at least one) at test addresses so that getip() and
friends answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from occo.servicecomposer import MemoryLookup, NotSupportedError, ServiceComposer
from occo.servicecomposer.contextualisation import deep_merge
from occo.util import NodeSpec, load_yaml_file
from occo.util.testing import CORPUS, tutorials, tutorials_missing

TUTORIALS = tutorials()

needs_tutorials = pytest.mark.skipif(TUTORIALS is None, reason=str(tutorials_missing()))

CORPUS_NAMES = ["bulletin-board", "gallery-puppet", "inline-templates", "notebook-lab",
                "relay-docker", "sandbox-dummy", "swarm-cloudsigma", "wiki-chef",
                "workers-local"]

# What a rendered template must no longer hold (outside {% raw %} blocks).
MARKERS = ("{{ getip", "{{getip", "{{ getprivip", "{{getprivip", "{{variables",
           "{{ variables", "{{infra_id", "{{ infra_id", "{{node_id", "{{ node_id", "{{puppet",
           "{{ puppet", "{{ name", "{{ cut", "{{ find_node_id", "{{ getipall", "{% raw %}")
RAW = re.compile(r"\{% raw %\}(.*?)\{% endraw %\}", re.S)


def _names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "nodes").is_dir())


def _infra_file(directory: Path) -> Path:
    return next(p for p in sorted(directory.glob("infra*.yaml")))


def _address(node_index: int, instance: int = 0) -> tuple[str, str]:
    return f"10.20.{node_index}.{instance + 10}", f"192.168.{node_index}.{instance + 10}"


def _chosen(implementations: list, node_filter: dict | None) -> dict:
    """The first implementation whose resource holds the node's filter."""
    for impl in implementations:
        if all(impl["resource"].get(k) == v for k, v in (node_filter or {}).items()):
            return impl
    raise AssertionError(f"no implementation passes the filter {node_filter}")


def infra_requests(root: Path, name: str) -> tuple[MemoryLookup, list[dict[str, Any]], dict]:
    directory = root / name
    infra = load_yaml_file(_infra_file(directory))
    defs = load_yaml_file(directory / "nodes" / "node_definitions.yaml")
    infra_id = f"corpus-{name}-0123456789" if root == CORPUS else f"tutorial-{name}"
    lookup = MemoryLookup()
    requests = []
    for i, node in enumerate(infra["nodes"]):
        scaling = node.get("scaling") or {"min": 1, "max": 1}
        for k in range(max(1, scaling.get("min", 1))):
            public, private = _address(i, k)
            lookup.add(infra_id, node["name"], f"{node['name']}-inst-{k + 1}",
                       addresses=[public], private_addresses=[private])
        implementation = _chosen(defs[f"node_def:{node['type']}"], node.get("filter"))
        variables = deep_merge(infra.get("variables") or {}, node.get("variables") or {})
        requests.append({
            "instance_id": f"{node['name']}-inst-new", "infra_id": infra_id,
            "infra_name": infra["infra_name"], "user_id": infra.get("user_id"),
            "node": {"name": node["name"], "type": node["type"], "variables": variables,
                     "scaling": scaling, **({"attributes": node["attributes"]}
                                            if "attributes" in node else {})},
            "implementation": implementation,
        })
    return lookup, requests, infra


def _params(root: Path | None, label: str) -> list:
    if root is None:
        return [pytest.param(None, None, id=f"{label}-missing",
                             marks=pytest.mark.skip(reason=str(tutorials_missing())))]
    return [pytest.param(root, name, id=f"{label}:{name}") for name in _names(root)]


def test_the_corpus_is_there():
    assert _names(CORPUS) == CORPUS_NAMES


@needs_tutorials
def test_the_tutorials_are_there():
    assert len(_names(TUTORIALS)) == 12, _names(TUTORIALS)


@pytest.mark.parametrize("root, name", _params(CORPUS, "corpus") + _params(TUTORIALS, "tutorials"))
def test_templates_render(root, name):
    lookup, requests, infra = infra_requests(root, name)
    with ServiceComposer(lookup) as composer:
        for index, request in enumerate(requests):
            impl = request["implementation"]
            if (impl.get("config_management") or {}).get("type") == "chef":
                with pytest.raises(NotSupportedError) as info:
                    composer.resolve(request)
                assert "puppet_solo" in str(info.value) and "cloud-init" in str(info.value)
                assert info.value.location.file.endswith("node_definitions.yaml")
                # its templates render all the same once the config manager is left out
                request = {**request, "implementation": {**impl, "config_management": None}}
            spec = composer.resolve(request)
            assert isinstance(spec, NodeSpec)
            assert NodeSpec.from_dict(spec.to_dict()) == spec
            assert "{{" not in str(spec.resource)
            _check_context(spec, request)
            if root == TUTORIALS:
                _check_tutorial_context(spec, request)
            public, _ = _address(index)
            plan = composer.health_plan(request, public)
            for check in plan.checks:
                assert "{{" not in str(check.target)
                if check.kind == "urls":
                    assert re.match(rf"https?://{re.escape(public)}[:/]", check.target)


def _check_context(spec: NodeSpec, request: dict) -> None:
    context = spec.context
    section = request["implementation"].get("contextualisation")
    if section is None:
        assert context is None
        return
    kind = section["type"]
    assert context["type"] == kind
    if kind == "docker":
        assert all("{{" not in entry for entry in context["env"])
        assert context["command"] == section["command"]  # no template in the files' commands
        return
    if kind == "basic":
        assert "{{" not in str(context["attributes"])
        return
    user_data = context["user_data"]
    assert user_data.startswith("#cloud-config\n")
    parsed = yaml.safe_load(user_data)
    assert isinstance(parsed, dict) and parsed
    raw_blocks = [block for text in _strings(section["context_template"])
                  for block in RAW.findall(text)]
    text = user_data
    for block in raw_blocks:  # raw blocks are kept verbatim
        first = block.strip().splitlines()[0].strip()
        assert first in text
        text = text.replace(first, "", 1)
    for marker in MARKERS:
        assert marker not in text, marker
    template = str(section)
    for var, value in (request["node"]["variables"] or {}).items():
        if isinstance(value, str) and (f"{{{{variables.{var}}}}}" in template
                                       or f"{{{{ variables.{var} }}}}" in template):
            assert value.strip().split("\n")[0] in user_data, var


def _check_tutorial_context(spec: NodeSpec, request: dict) -> None:
    """What every tutorial of that kind holds, literally."""
    context = spec.context
    if context["type"] == "docker":
        assert context["command"] == "sh -c /root/start.sh"
    elif "{% raw %}" in str(request["implementation"]["contextualisation"]["context_template"]):
        assert '{{range service "hadoop"}}' in context["user_data"]


def _strings(value: Any) -> list[str]:
    """Every string in nested mappings and lists."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return []


def _resolve(name: str, node: str, *, config_management: bool = True
             ) -> tuple[NodeSpec, MemoryLookup, dict, dict]:
    lookup, requests, infra = infra_requests(CORPUS, name)
    request = next(r for r in requests if r["node"]["name"] == node)
    if not config_management:
        request = {**request, "implementation": {**request["implementation"],
                                                 "config_management": None}}
    with ServiceComposer(lookup) as composer:
        return composer.resolve(request), lookup, request, infra


def _ip(lookup: MemoryLookup, request: dict, node: str, *, private: bool = False) -> str:
    key = "private_addresses" if private else "addresses"
    return lookup.ready_instances(request["infra_id"], node)[0][key][0]


def _cloud_config(spec: NodeSpec) -> dict:
    return yaml.safe_load(spec.context["user_data"])


def _files(spec: NodeSpec) -> dict[str, str]:
    return {f["path"]: f["content"] for f in _cloud_config(spec)["write_files"]}


# -- OCCO's own corpus -------------------------------------------------------------------

def test_corpus_text_import_template_with_getip_and_node_variables():
    spec, lookup, request, _ = _resolve("bulletin-board", "board")
    store = _ip(lookup, request, "store")
    assert spec.resource["name"] == "north-small"  # the filter's first implementation
    ini = _files(spec)["/etc/board/board.ini"]
    assert ini.splitlines() == [
        "[board]", "title = Corpus Notice Board", "listen = 0.0.0.0:8080",
        f"store = {store}:6380", "instance = board-inst-new",
        f"infrastructure = {request['infra_id']}"]
    with ServiceComposer(lookup) as composer:
        plan = composer.health_plan(request, "10.9.8.7")
    assert [(c.kind, c.target) for c in plan.checks] == [
        ("ping", "10.9.8.7"), ("ports", 8080), ("urls", "http://10.9.8.7:8080/healthz")]


def test_corpus_private_addresses_computed_names_and_raw_blocks():
    kernel, lookup, request, infra = _resolve("notebook-lab", "kernel")
    private = _ip(lookup, request, "hub", private=True)
    public = _ip(lookup, request, "hub")
    data = _cloud_config(kernel)
    assert data["bootcmd"] == [f'echo "{private} lab-hub" >> /etc/hosts']
    assert _files(kernel)["/etc/lab/kernel.env"].splitlines() == [
        f"HUB_PRIVATE={private}", f"HUB_PUBLIC={public}",  # getip(variables.hub_node)
        "MEMORY_LIMIT=4g", "CPU_LIMIT=2"]                   # node over infrastructure
    assert data["runcmd"] == [["sh", "-c", f"lab-kernel --hub {private}:8081 "
                                           "--id kernel-inst-new"]]
    assert kernel.resource["server_name"] == "lab-kernel-kernel-i"
    hub, _, _, _ = _resolve("notebook-lab", "hub")
    files = _files(hub)
    # the multi-line banner stays one value, line for line
    assert files["/etc/motd"] == infra["variables"]["lab_banner"] + "\n"
    assert files["/etc/lab/kernels.ctmpl"].strip().splitlines() == [
        '{{range service "lab-kernel"}}{{.Address}}:{{.Port}}', "{{end}}"]
    assert hub.resource["server_name"] == "lab-hub"


def test_corpus_chef_is_refused_but_its_cloud_config_renders():
    lookup, requests, _ = infra_requests(CORPUS, "wiki-chef")
    with ServiceComposer(lookup) as composer:
        with pytest.raises(NotSupportedError) as info:
            composer.resolve(requests[0])
    assert info.value.location.file == str(CORPUS / "wiki-chef/nodes/node_definitions.yaml")
    spec, _, request, _ = _resolve("wiki-chef", "wiki-db", config_management=False)
    data = _cloud_config(spec)
    assert data["chef"]["environment"] == request["infra_id"]
    assert data["chef"]["node_name"] == "wiki-db-wiki-db-inst-new"
    # the implementation's attributes are merged into the cloud-config
    assert data["mariadb"] == {"server_root_password": "corpus-root-not-a-secret"}
    assert data["wiki_schema"] == {"database": "wikidb", "owner": "wikiuser",
                                   "owner_password": "corpus-wiki-not-a-secret"}
    assert data["runcmd"] == [["chef-client", "--once"]]


def test_corpus_puppet_solo_names_and_hieradata():
    spec, lookup, request, infra = _resolve("gallery-puppet", "gallery-web")
    db = _ip(lookup, request, "gallery-db")
    files = _files(spec)
    assert files["/etc/occo-puppet/modules.txt"].strip() == "puppet-nginx puppet-php"
    assert files["/etc/occo-puppet/manifests.txt"].strip() == (
        "https://manifests.corpus.example/gallery/web.pp "
        "https://manifests.corpus.example/gallery/thumbnails.pp")
    assert files["/etc/occo-puppet/attributes.txt"].strip() == (
        "{'db_name': 'photos'} {'db_user': 'curator'} "
        "{'db_password': 'corpus-gallery-not-a-secret'} " f"{{'db_host': '{db}'}}")
    hiera = files["/etc/puppetlabs/code/environments/production/data/common.yaml"]
    assert yaml.safe_load(hiera) == {"db_name": "photos", "db_user": "curator",
                                     "db_password": "corpus-gallery-not-a-secret",
                                     "db_host": db}
    assert "${url##*/}" in files["/usr/local/sbin/occo-puppet-apply"]
    lookup, requests, _ = infra_requests(CORPUS, "gallery-puppet")
    with ServiceComposer(lookup) as composer:
        plan = composer.health_plan(requests[0], "10.9.8.7")  # gallery-db: ping: false
    assert [(c.kind, c.target) for c in plan.checks] == [
        ("mysqldbs", {"name": "photos", "user": "curator",
                      "pass": "corpus-gallery-not-a-secret"})]


def test_corpus_docker_env_and_command():
    listener, lookup, request, _ = _resolve("relay-docker", "listener")
    beacon_ip = _ip(lookup, request, "beacon")
    assert listener.context == {"type": "docker", "command": "sh /opt/relay/listen.sh",
                                "env": [f"BEACON_ADDRESS={beacon_ip}", "ROUNDS=3"]}
    beacon, _, _, _ = _resolve("relay-docker", "beacon")
    assert beacon.context == {"type": "docker", "command": ["/bin/sh", "/opt/relay/beacon.sh"],
                              "env": ["ANNOUNCEMENT=The corpus beacon is lit.",
                                      "BEACON_ID=beacon-inst-new"]}


def test_corpus_bare_node_name():
    agent, lookup, request, _ = _resolve("swarm-cloudsigma", "agent")
    manager = _ip(lookup, request, "manager")
    runcmd = _cloud_config(agent)["runcmd"]
    assert f"http://{manager}:8377/join-token" in runcmd[1]
    assert runcmd[2] == f'docker swarm join --token "$(cat /tmp/join-token)" {manager}:2377'
    assert "CHANNEL=stable sh" in runcmd[0]


def test_corpus_basic_contextualisation_and_none():
    probe, _, request, _ = _resolve("sandbox-dummy", "probe")
    assert probe.context == {"type": "basic", "attributes": {"probe": {
        "zone": "lab-a", "instance": "probe-inst-new", "infrastructure": "sandbox-dummy"}}}
    collector, _, _, _ = _resolve("sandbox-dummy", "collector")
    assert collector.context is None and collector.resource == {"type": "dummy",
                                                                "name": "sandbox-b"}


def test_corpus_local_resource_templates():
    worker, lookup, request, _ = _resolve("workers-local", "worker")
    queue = _ip(lookup, request, "queue")
    # a template that is one expression keeps its value's type (the local cloud makes
    # environment strings of numbers)
    assert worker.resource["env"] == {"QUEUE_HOST": queue, "QUEUE_PORT": 17017,
                                      "JOB_INTERVAL": 2}
    assert worker.resource["command"] == ["sh", "-c", 'exec "$OCCO_PYTHON" worker.py']
    assert worker.resource["files"]["worker.py"]["mode"] == 0o644


def test_corpus_inline_templates_and_the_other_names():
    origin, lookup, request, _ = _resolve("inline-templates", "origin")
    infra_id = request["infra_id"]
    data = _cloud_config(origin)
    assert data["hostname"] == "origin-origin"  # name-cut(node_id, 0, 6)
    assert _files(origin)["/etc/origin/site.conf"] == \
        "site=corpus.example owner=templating@corpus.example type=inline_origin\n"
    assert origin.resource["tags"] == {"occo-node": "origin", "occo-infra": infra_id[:8]}
    edge, _, _, _ = _resolve("inline-templates", "edge")
    origins = [r["addresses"][0] for r in lookup.ready_instances(infra_id, "origin")]
    assert len(origins) == 2
    files = _files(edge)
    assert files["/etc/edge/upstreams"] == " ".join(origins)
    assert files["/etc/edge/cache.conf"] == "size=512M policy=lru"
    assert files["/etc/edge/first-origin"] == "origin-inst-1"
    assert _cloud_config(edge)["runcmd"] == [["edge-proxy", "--site", "corpus.example",
                                              "--infra", "inline-templates",
                                              "--flavor", "edge.small"]]
    assert edge.resource["server_name"] == f"edge-{infra_id[:4]}"


# -- the Occopus tutorials (optional) ----------------------------------------------------

def tutorial_requests(name: str) -> tuple[MemoryLookup, list[dict[str, Any]], dict]:
    return infra_requests(TUTORIALS, name)


@needs_tutorials
def test_cqueue_bare_node_name_and_variables_targetnode():
    lookup, requests, _ = tutorial_requests("cqueue-cluster")
    worker = next(r for r in requests if r["node"]["name"] == "worker")
    master_ip = lookup.ready_instances(worker["infra_id"], "master")[0]["addresses"][0]
    with ServiceComposer(lookup) as composer:
        assert master_ip in composer.resolve(worker).context["user_data"]
    lookup, requests, _ = tutorial_requests("nova-ping")
    sender = next(r for r in requests if r["node"]["name"] == "ping-sender")
    receiver_ip = lookup.ready_instances(sender["infra_id"], "ping-receiver")[0]["addresses"][0]
    with ServiceComposer(lookup) as composer:
        assert f"ping {receiver_ip}" in composer.resolve(sender).context["user_data"]


@needs_tutorials
def test_hadoop_private_addresses_and_private_key_block():
    lookup, requests, infra = tutorial_requests("autoscaling-hadoop")
    slave = next(r for r in requests if r["node"]["name"] == "hadoop-slave")
    with ServiceComposer(lookup) as composer:
        data = yaml.safe_load(composer.resolve(slave).context["user_data"])
    key_file = next(f for f in data["write_files"] if f["path"] == "/tmp/hduser/id_rsa")
    # the multi-line key stays one value, line for line
    assert "-----BEGIN RSA PRIVATE KEY-----" in key_file["content"]
    assert "-----END RSA PRIVATE KEY-----" in key_file["content"]
    lookup, requests, _ = tutorial_requests("hadoop-cluster")
    slave = next(r for r in requests if r["node"]["name"] == "hadoop-slave")
    private = lookup.ready_instances(slave["infra_id"], "hadoop-master")[0]["private_addresses"][0]
    with ServiceComposer(lookup) as composer:
        assert f"{private} hadoop-master" in composer.resolve(slave).context["user_data"]


@needs_tutorials
def test_puppet_solo_hands_manifests_modules_and_attributes_as_occopus_did():
    lookup, requests, infra = tutorial_requests("puppet-solo-wordpress")
    wp = next(r for r in requests if r["node"]["name"] == "puppet-solo-wp")
    mysql_ip = lookup.ready_instances(wp["infra_id"], "puppet-solo-mysql")[0]["addresses"][0]
    with ServiceComposer(lookup) as composer:
        data = yaml.safe_load(composer.resolve(wp).context["user_data"])
    files = {f["path"]: f["content"] for f in data["write_files"]}
    assert files["/var/lib/puppet/occopus.puppet.modules"].strip() == \
        "example42-apache example42-php hunner-wordpress"
    assert files["/var/lib/puppet/occopus.puppet.manifests"].strip().endswith("wordpress-init.pp")
    hiera = files["/etc/puppetlabs/code/environments/production/hieradata/common.yaml"].strip()
    variables = infra["variables"]
    assert hiera == (f"{{'dbuser': '{variables['mysql_dbuser_username']}'}} "
                     f"{{'dbpass': '{variables['mysql_dbuser_password']}'}} "
                     f"{{'dbname': '{variables['mysql_database_name']}'}} "
                     f"{{'mysqlhost': '{mysql_ip}'}}")
    # what the tutorial's sed makes of it is hiera YAML
    for pattern, repl in (("{'", ""), ("':", ":"), ("} ", "\n"), ("}", "")):
        hiera = hiera.replace(pattern, repl)
    assert yaml.safe_load(hiera) == {
        "dbuser": variables["mysql_dbuser_username"], "dbpass": variables["mysql_dbuser_password"],
        "dbname": variables["mysql_database_name"], "mysqlhost": mysql_ip}
