"""cloudinit, docker and basic contextualisation."""

from __future__ import annotations

import pytest
import yaml
from conftest import make_request

from occo.servicecomposer import ContextError, RenderLimits, ServiceComposer, TemplateLimitError
from occo.servicecomposer._cloudconfig import CloudConfigTemplate
from occo.servicecomposer.templates import TemplateRenderer, Where

TRICKY = [
    "plain", "", " leading space", "trailing space ", "it's \"quoted\"", "a: b", "#hash",
    "- dash", "yes", "null", "0755", "1e3", "line1\nline2", "line1\nline2\n",
    "ends with two\n\n", "\n\nstarts with newlines", "  indented\nfirst line",
    "tab\tinside\n\tand a tab line", "unicode: árvíztűrő ✓ 🎉", "nel\x85inside",
    "line sep\u2028inside", "ctrl\x01char", "cr\r\nlf", "   \n  \nspaces only lines",
    "{not a template}", "trailing spaces \nin lines  \n", "x\n   \ny",
]


def user_data(composer, template, **request) -> str:
    ctx = {"type": "cloudinit", "context_template": template}
    ctx.update(request.pop("ctx", {}))
    return composer.resolve(make_request(contextualisation=ctx, **request)).context["user_data"]


def test_a_string_template_is_rendered_as_a_whole(composer):
    text = "#!/bin/sh\n{% for ip in getipall('db') %}echo {{ ip }}\n{% endfor %}"
    assert user_data(composer, text) == "#!/bin/sh\necho 10.0.0.5\necho 10.0.0.6\n"


def test_a_string_cloud_config_must_stay_yaml(composer):
    text = "#cloud-config\nruncmd:\n  - echo {{ variables.x }}\n"
    with pytest.raises(ContextError) as info:
        user_data(composer, text, variables={"x": "a\n: b: c"})
    assert "the rendered #cloud-config is not valid YAML at line 4" in str(info.value)
    assert "node 'web'" in str(info.value) and "context_template" in str(info.value)


def test_a_mapping_is_dumped_as_cloud_config(composer):
    template = {"runcmd": ["echo {{ getip('db') }}", "{{ variables.cmd }}"],
                "write_files": [{"path": "/etc/x", "content": "a={{ node_id }}\nb=2\n"}],
                "packages": ["curl"], "empty": [], "n": 3}
    data = user_data(composer, template, variables={"cmd": ["ls", "-l"]})
    assert data.startswith("#cloud-config\n")
    assert yaml.safe_load(data) == {
        "runcmd": ["echo 10.0.0.5", ["ls", "-l"]],
        "write_files": [{"path": "/etc/x", "content": "a=web-0001\nb=2\n"}],
        "packages": ["curl"], "empty": [], "n": 3}
    assert "  content: |\n    a=web-0001\n    b=2\n" in data  # readable block text


@pytest.mark.parametrize("value", TRICKY)
def test_rendered_values_never_change_the_structure(composer, value):
    template = {"a": "{{ variables.v }}", "b": ["{{ variables.v }}", {"c": "{{ variables.v }}"}],
                "d": {"e": [["{{ variables.v }}"]]}, "f": "pre {{ variables.v }}"}
    data = yaml.safe_load(user_data(composer, template, variables={"v": value}))
    assert data == {"a": value, "b": [value, {"c": value}], "d": {"e": [[value]]},
                    "f": "pre " + value}


@pytest.mark.parametrize("value", [None, True, 1.5, 10 ** 20, -3, {"k": [1, "x: y"]}, [],
                                   {}, [None, False]])
def test_typed_values_are_encoded_as_yaml(composer, value):
    template = {"a": "{{ variables.v }}", "b": ["{{ variables.v }}"]}
    data = yaml.safe_load(user_data(composer, template, variables={"v": value}))
    assert data == {"a": value, "b": [value]}


def test_the_fast_path_is_used_and_matches_the_slow_path():
    renderer = TemplateRenderer()
    where = Where("web", "t", "i", "contextualisation.context_template")
    mapping = {"x": ["{{ v }}", {"y": "{{ v }}!"}], "z": "{{ v }}"}
    fast = CloudConfigTemplate(renderer, mapping, where)
    slow = CloudConfigTemplate(renderer, {**mapping, "{{ 'k' }}": 1}, where)
    assert fast.fast and not slow.fast
    for value in TRICKY:
        got = yaml.safe_load(fast.render({"v": value}))
        assert got == {"x": [value, {"y": value + "!"}], "z": value}
        assert yaml.safe_load(slow.render({"v": value})) == {**got, "k": 1}


def test_attributes_are_deep_merged_into_the_cloud_config(composer):
    template = {"runcmd": ["a"], "app": {"port": 80, "host": "h"}}
    ctx = {"attributes": {"app": {"port": "{{ variables.port }}"}, "extra": "{{ name }}"}}
    data = yaml.safe_load(user_data(composer, template, ctx=ctx, variables={"port": 8080},
                                    attributes={"app": {"host": "node-wins"}}))
    assert data == {"runcmd": ["a"], "app": {"port": 8080, "host": "node-wins"},
                    "extra": "web"}


def test_attributes_merge_into_a_string_cloud_config_but_not_a_script(composer):
    ctx = {"attributes": {"packages": ["{{ 'vim' }}"]}}
    data = user_data(composer, "#cloud-config\nruncmd: [ls]\n", ctx=ctx)
    assert yaml.safe_load(data) == {"runcmd": ["ls"], "packages": ["vim"]}
    with pytest.raises(ContextError) as info:
        user_data(composer, "#!/bin/sh\necho hi\n", ctx=ctx)
    assert "attributes can only be merged into a #cloud-config template" in str(info.value)


def test_user_data_over_the_limit_is_refused(lookup):
    with ServiceComposer(lookup, limits=RenderLimits(max_output=1000)) as composer:
        with pytest.raises(ContextError) as info:
            user_data(composer, {"a": ["x" * 400, "y" * 400, "z" * 400]})
        assert "the rendered user-data is" in str(info.value) and "the limit is 1000" \
            in str(info.value)
        with pytest.raises(TemplateLimitError):
            user_data(composer, "{% for i in range(100) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}")


def test_compiled_cloud_configs_are_cached_per_implementation(composer):
    template = {"runcmd": ["echo {{ node_id }}"]}
    for i in range(5):
        request = make_request(instance_id=f"web-{i}",
                               contextualisation={"type": "cloudinit",
                                                  "context_template": template})
        assert f"echo web-{i}" in composer.resolve(request).context["user_data"]
    assert len(composer.contextualiser._cache) == 1


def test_docker_context(composer):
    ctx = {"type": "docker", "env": ["DB={{ getip('db') }}", "NAME={{ name }}"],
           "command": ["sh", "-c", "echo {{ node_id }}"],
           "context_variables": {"MODE": "{{ variables.mode }}", "EMPTY": None}}
    spec = composer.resolve(make_request(contextualisation=ctx, variables={"mode": "fast"}))
    assert spec.context == {"type": "docker",
                            "env": ["MODE=fast", "EMPTY=", "DB=10.0.0.5", "NAME=web"],
                            "command": ["sh", "-c", "echo web-0001"]}
    ctx = {"type": "docker", "env": [], "command": "run {{ name }}", "context_variables": "A=1"}
    assert composer.resolve(make_request(contextualisation=ctx)).context == \
        {"type": "docker", "env": ["A=1"], "command": "run web"}


@pytest.mark.parametrize("ctx, problem", [
    ({"type": "docker", "env": ["NOEQUALS"]},
     "an environment entry must be 'NAME=value', got 'NOEQUALS'"),
    ({"type": "docker", "env": "A=1"}, "env must be a list of 'NAME=value'"),
    ({"type": "docker", "command": "{{ [1, 2] }}"},
     "command must be a string or a list of strings"),
    ({"type": "cloudinit", "context_template": 5},
     "context_template must be a string or a mapping"),
    ({"type": "cloudinit", "context_template": {}, "attributes": [1]},
     "attributes must be a mapping or a list of mappings"),
    ({"type": "ansible"},
     "unknown contextualisation type 'ansible'; known: cloudinit, docker, basic"),
])
def test_context_errors(composer, ctx, problem):
    with pytest.raises(ContextError) as info:
        composer.resolve(make_request(contextualisation=ctx))
    assert problem in str(info.value) and "node 'web'" in str(info.value)


def test_basic_context_and_none(composer):
    ctx = {"type": "basic", "attributes": [{"a": "{{ name }}"}, {"b": 2}]}
    assert composer.resolve(make_request(contextualisation=ctx)).context == \
        {"type": "basic", "attributes": {"a": "web", "b": 2}}
    assert composer.resolve(make_request()).context is None
