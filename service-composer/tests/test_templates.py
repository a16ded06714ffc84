"""Template names (FORMATS.md section 4), typed values, and located errors."""

from __future__ import annotations

import pytest
from conftest import INFRA, make_request

from occo.servicecomposer import (
    DependencyNotReadyError,
    RequestError,
    TemplateError,
    TemplateRenderer,
    Where,
)
from occo.util import load_yaml_text


def value_of(composer, text, **request):
    resource = {"type": "dummy", "value": text}
    return composer.resolve(make_request(resource=resource, **request)).resource["value"]


def test_instance_node_and_infrastructure_names(composer):
    text = "{{ node_id }}|{{ infra_id }}|{{ infra_name }}|{{ user_id }}|{{ name }}|{{ type }}"
    assert value_of(composer, text) == f"web-0001|{INFRA}|demo|me@example.org|web|web_node"
    assert value_of(composer, "{{ scaling.max }}") == 1
    assert value_of(composer, "{{ resource.type }}") == "dummy"


def test_implementation_sections_are_visible(composer):
    request = make_request(
        resource={"type": "dummy", "zone": "a"},
        contextualisation={"type": "basic",
                           "attributes": {"r": "{{ resource.zone }}",
                                          "h": "{{ health_check.ports[0] }}",
                                          "c": "{{ contextualisation.type }}",
                                          "m": "{{ config_management.type }}"}},
        health_check={"ports": [22]})
    spec = composer.resolve(request)
    assert spec.context == {"type": "basic",
                            "attributes": {"r": "a", "h": 22, "c": "basic", "m": "none"}}


def test_variables_and_cut(composer):
    variables = {"db": {"name": "wp", "port": 3306}, "greeting": "hello"}
    assert value_of(composer, "{{ variables.db.name }}-{{ cut(infra_id, 0, 4) }}",
                    variables=variables) == "wp-infr"
    assert value_of(composer, "{{ cut(variables.greeting, 1) }}", variables=variables) == "ello"


def test_a_whole_string_expression_keeps_its_type(composer):
    variables = {"port": 8080, "ports": [1, 2], "flag": False, "pw": "0123"}
    assert value_of(composer, "{{ variables.port }}", variables=variables) == 8080
    assert value_of(composer, "{{ variables.ports }}", variables=variables) == [1, 2]
    assert value_of(composer, "{{ variables.flag }}", variables=variables) is False
    assert value_of(composer, "{{ variables.pw }}", variables=variables) == "0123"
    assert value_of(composer, "{{ variables.port + 1 }}", variables=variables) == 8081
    # text around it, or a value that is not plain data, gives a string
    assert value_of(composer, " {{ variables.port }}", variables=variables) == " 8080"
    assert value_of(composer, "{{ cycler(1) }}").startswith("<jinja2.utils.Cycler")


def test_getip_and_friends(composer):
    assert value_of(composer, "{{ getip('db') }}") == "10.0.0.5"
    assert value_of(composer, "{{ getprivip('db') }}") == "192.168.0.5"
    assert value_of(composer, "{{ getipall('db') }}") == ["10.0.0.5", "10.0.0.6"]
    assert value_of(composer, "{{ getipall('db')|join(',') }}") == "10.0.0.5,10.0.0.6"
    assert value_of(composer, "{{ find_node_id('db') }}") == "db-0001"
    # any state counts for find_node_id; getipall of a node with none ready is empty
    assert value_of(composer, "{{ find_node_id('cache') }}") == "cache-0001"
    assert value_of(composer, "{{ getipall('cache') }}") == []


def test_getprivip_falls_back_to_the_only_address(composer, lookup):
    lookup.add(INFRA, "lb", "lb-1", addresses=["127.0.5.1"])
    assert value_of(composer, "{{ getprivip('lb') }}") == "127.0.5.1"


def test_a_bare_undefined_name_is_a_node_name_as_in_occopus(composer):
    assert value_of(composer, "{{ getip(db) }}") == "10.0.0.5"
    assert value_of(composer, "{{ getip(variables.target) }}", variables={"target": "db"}) \
        == "10.0.0.5"
    with pytest.raises(TemplateError) as info:
        value_of(composer, "{{ getip(variables.missing) }}")
    assert "'dict object' has no attribute 'missing'" in str(info.value)
    with pytest.raises(TemplateError) as info:
        value_of(composer, "{{ db }}")
    assert "'db' is undefined" in str(info.value)


def test_lookups_are_memoised_within_one_instance(composer, lookup):
    calls = []
    original = lookup.ready_instances

    def counting(infra_id, node):
        calls.append(node)
        return original(infra_id, node)

    lookup.ready_instances = counting
    value_of(composer, "{{ getip('db') }} {{ getip('db') }} {{ getprivip(db) }}")
    assert calls == ["db"]


def test_a_node_without_ready_instance(composer):
    with pytest.raises(DependencyNotReadyError) as info:
        value_of(composer, "{{ getip('cache') }}")
    message = str(info.value)
    assert "getip('cache'): node 'cache' has no ready instance" in message
    assert "node 'web'" in message and "resource.value" in message
    assert info.value.exit_code == 1  # may pass: the caller can retry
    with pytest.raises(DependencyNotReadyError) as info:
        value_of(composer, "{{ getip('nosuch') }}")
    assert "has no instance of 'nosuch' at all" in str(info.value)


def test_naming_a_node_that_is_not_a_dependency(composer):
    assert value_of(composer, "{{ getip('db') }}", dependencies=["db"]) == "10.0.0.5"
    with pytest.raises(TemplateError) as info:
        value_of(composer, "{{ getip('cache') }}", dependencies=["db"])
    assert "node 'cache' is not a dependency of node 'web' (its dependencies: db)" \
        in str(info.value)


@pytest.mark.parametrize("text, problem", [
    ("{{ variables.nope }}", "undefined: 'dict object' has no attribute 'nope'"),
    ("{{ nope }}", "undefined: 'nope' is undefined"),
    ("{{ [nope] }}", "undefined: 'nope' is undefined"),
    ("x{{ {'a': variables.nope} }}", "undefined: 'dict object' has no attribute 'nope'"),
    ("x {{ nope }} y", "undefined: 'nope' is undefined"),
    ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
    ("{{ getip(42) }}", "getip() takes a node name, got 42"),
    ("{{ cut(name, 'a') }}", "cut(): start must be an integer, got 'a'"),
    ("{{ oops ", "template syntax error at template line 1"),
    ("{% for x in y %}", "template syntax error at template line 1"),
])
def test_template_errors_name_node_section_and_problem(composer, text, problem):
    with pytest.raises(TemplateError) as info:
        value_of(composer, text)
    assert problem in str(info.value)
    assert str(info.value).startswith("resource.value: node 'web' (type 'web_node')")
    assert info.value.exit_code == 2


def test_errors_carry_file_line_and_template_line(lookup):
    text = ("'node_def:web_node':\n"
            "  - resource:\n"
            "      type: dummy\n"
            "      name: ok\n"
            "      server_name: \"a\\nb\\n{{ variables.nope }}\"\n")
    impl = load_yaml_text(text, source="nodes.yaml")["node_def:web_node"][0]
    request = make_request()
    request["implementation"] = impl
    from occo.servicecomposer import ServiceComposer
    with ServiceComposer(lookup) as composer, pytest.raises(TemplateError) as info:
        composer.resolve(request)
    assert str(info.value).startswith("nodes.yaml:5:20: resource.server_name: node 'web' "
                                      "(type 'web_node'), template line 3: undefined")


def test_keys_are_rendered_too(composer):
    request = make_request(contextualisation={"type": "basic",
                                              "attributes": {"{{ name }}_port": 1}})
    assert composer.resolve(request).context["attributes"] == {"web_port": 1}


def test_compiled_templates_are_cached_by_text():
    renderer = TemplateRenderer()
    where = Where("web", "web_node", "i", "resource")
    first = renderer.compile("{{ name }}")
    assert renderer.compile("{{ name }}") is first
    assert renderer.render({"a": "{{ name }}", "b": ["{{ name }}!"]}, {"name": "n"}, where) \
        == {"a": "n", "b": ["n!"]}


@pytest.mark.parametrize("mutate, problem", [
    (lambda r: r.pop("instance_id"), "instance_id: missing"),
    (lambda r: r["node"].pop("name"), "node.name: missing"),
    (lambda r: r.update(node="web"), "node: must be a mapping, got 'web'"),
    (lambda r: r["implementation"]["resource"].pop("type"), "implementation.resource.type"),
    (lambda r: r["node"].update(variables=[1]), "node.variables: must be a mapping"),
    (lambda r: r["node"].update(dependencies="db"), "node.dependencies: must be a list"),
    (lambda r: r["implementation"].update(health_check=[1]),
     "implementation.health_check: must be a mapping"),
])
def test_malformed_requests(composer, mutate, problem):
    request = make_request()
    mutate(request)
    with pytest.raises(RequestError) as info:
        composer.resolve(request)
    assert problem in str(info.value)
    with pytest.raises(RequestError):
        composer.resolve("not a mapping")
