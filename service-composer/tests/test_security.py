"""Hostile templates are refused with clear errors; secrets never reach errors or logs."""

from __future__ import annotations

import logging

import pytest
from conftest import make_request

from occo.servicecomposer import (
    MemoryLookup,
    RenderLimits,
    ServiceComposer,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
)
from occo.util import InputError


def render_resource(composer: ServiceComposer, text: str, **variables):
    request = make_request(resource={"type": "dummy", "value": text}, variables=variables)
    return composer.resolve(request).resource["value"]


@pytest.fixture
def tight(lookup: MemoryLookup):
    """A composer with small limits, so hostile templates hit them quickly."""
    limits = RenderLimits(max_seconds=0.5, max_output=100_000, max_items=10_000)
    with ServiceComposer(lookup, limits=limits) as sc:
        yield sc


@pytest.mark.parametrize("text, refused", [
    ("{{ ''.__class__.__mro__ }}", "'__class__'"),
    ("{{ cycler.__init__.__globals__ }}", "'__init__'"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "'__class__'"),
    ("{{ namespace.__init__.__globals__['os'] }}", "'__init__'"),
    ("{{ joiner.__call__.__globals__ }}", "'__call__'"),
    ("{{ variables.items.__self__ }}", "'__self__'"),
    ("{{ (0).__class__.__base__ }}", "'__class__'"),
    ("{{ '{0.__class__.__mro__}'.format('') }}", "'__class__'"),
    ("{{ self.__init__ }}", "'__init__'"),
    ("{{ ''|attr('__class__') }}", "'__class__'"),
    ("{{ ['']|map(attribute='__class__')|list }}", "'__class__'"),
    ("{{ ''['__class__'] }}", "'__class__'"),
])
def test_internals_are_refused(composer, text, refused):
    with pytest.raises(TemplateSecurityError) as info:
        render_resource(composer, text)
    message = str(info.value)
    assert "refused by the sandbox" in message and refused in message and "unsafe" in message
    assert "node 'web'" in message and "resource.value" in message
    assert info.value.exit_code == 2 and info.value.node == "web"


@pytest.mark.parametrize("text, word", [
    ("{% include '/etc/passwd' %}", "'include' is not allowed"),
    ("{% import '/etc/passwd' as pw %}{{ pw }}", "'import' is not allowed"),
    ("{% from '/etc/hosts' import x %}{{ x }}", "'import' is not allowed"),
    ("{% extends '/etc/passwd' %}", "'extends' is not allowed"),
])
def test_reading_files_through_template_tags_is_refused(composer, text, word):
    with pytest.raises(TemplateSecurityError) as info:
        render_resource(composer, text)
    assert word in str(info.value) and "cannot read files" in str(info.value)


@pytest.mark.parametrize("text", [
    "{{ open('/etc/passwd').read() }}",
    "{{ __import__('os').system('id') }}",
    "{{ cmd('cat /etc/passwd') }}",
    "{{ lipsum(n=100000) }}",
    "{{ config }}",
])
def test_python_builtins_and_occopus_cmd_do_not_exist(composer, text):
    with pytest.raises(TemplateError) as info:
        render_resource(composer, text)
    assert "is undefined" in str(info.value)


def test_shared_values_cannot_be_modified(composer):
    with pytest.raises(TemplateSecurityError) as info:
        render_resource(composer, "{{ variables.items_list.append(1) }}", items_list=[1])
    assert "append" in str(info.value)


@pytest.mark.parametrize("text", [
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "{% set s = 'x' * 5000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
])
def test_loops_that_never_end_are_stopped(tight, text):
    with pytest.raises(TemplateLimitError) as info:
        render_resource(tight, text)
    assert "took longer than 0.5 s" in str(info.value)


def test_endless_recursion_is_stopped(composer):
    with pytest.raises(TemplateLimitError) as info:
        render_resource(composer, "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
    assert "recursion too deep" in str(info.value)


@pytest.mark.parametrize("text", [
    "{{ 'x' * 1000000000 }}",
    "{{ 1000000000 * 'x' }}",
    "{{ ['x'] * 1000000000 }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ 'x'.zfill(1000000000) }}",
    "{{ ('\t' * 1000).expandtabs(1000000) }}",
    "{{ '%01000000000d' % 1 }}",
    "{{ '{:>1000000000}'.format(1) }}",
    "{{ '{0:>1000000000}'.format_map({'0': 1}) }}",
    "{{ '%s'|format('x') ~ '%099999999s'|format('x') }}",
    "{{ 2 ** 100000000 }}",
    "{{ ('x' * 90000).replace('x', 'y' * 90000) }}",
    "{{ ('x' * 90000)|replace('x', 'y' * 90000) }}",
    "{{ (['x' * 90000] * 5000)|join }}",
    "{{ ('x' * 90000)|indent(100000, true) }}",
    "{{ range(1000000000)|list }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% for i in range(10000) %}{{ 'x' * 50 }}{% endfor %}",
    "{{ '%*d' % (1000000000, 1) }}",
    "{{ '{:{w}}'.format(1, w=1000000000) }}",
    "{{ '%(a)0999999999d' % {'a': 1} }}",
    "{{ range(5000)|map('replace', '', 'x' * 90000)|join }}",
    "{{ ''.join(range(5000)|map('replace', '', 'x' * 90000)) }}",
    "{% for i in range(9000) %}{% set x = 'y' * 9000 %}{% endfor %}",
])
def test_huge_outputs_are_refused(tight, text):
    with pytest.raises(TemplateLimitError) as info:
        render_resource(tight, text)
    message = str(info.value)
    assert "refused:" in message and "limit" in message or "too large" in message
    assert "node 'web'" in message


def test_the_limits_leave_ordinary_templates_alone(tight):
    text = "{% for i in range(100) %}{{ i }},{% endfor %}{{ 'ab' * 3 }}{{ 2 ** 10 }}"
    assert render_resource(tight, text).endswith(",ababab1024")
    text = ("{{ 'call 0036123456789 %05d' % 7 }} {{ '{} 123456789012 {:>4}'.format(1, 2) }} "
            "{{ '%*d'|format(3, 1) }} {{ range(3)|map('string')|join('-') }}")
    assert render_resource(tight, text) == "call 0036123456789 00007 1 123456789012    2   1 0-1-2"


def test_a_secret_never_appears_in_an_error(composer):
    secret = "S3cr3t-value-42"
    with pytest.raises(TemplateError) as info:
        render_resource(composer, "{{ {}[variables.db_password] }}", db_password=secret)
    assert secret not in str(info.value) and "***" in str(info.value)
    assert secret not in repr(info.value.to_dict())


def test_secrets_in_health_checks_and_config_management_stay_hidden(composer, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Pa55-word-for-db"
    request = make_request(
        variables={"pw": secret},
        config_management={"type": "puppet_solo", "manifests": ["m.pp"],
                           "attributes": [{"dbpass": "{{ variables.pw }}"}]},
        health_check={"ping": False, "mysqldbs": [{"name": "wp", "user": "wp",
                                                    "pass": "{{ variables.pw }}"}]})
    composer.resolve(request)
    plan = composer.health_plan(request, "127.0.0.1")
    (report,) = composer.health.run([plan])
    assert not report.healthy  # no MySQL on 127.0.0.1:3306 accepts user wp
    assert secret not in str(report.to_dict())
    assert report.checks[0].target == "wp@wp"
    bad = make_request(variables={"pw": secret},
                       resource={"type": "dummy", "x": "{{ {}[variables.pw] }}"})
    with pytest.raises(InputError) as info:
        composer.resolve(bad)
    logging.getLogger("occo.test").error("resolve failed: %s", info.value)
    assert secret not in caplog.text and secret not in str(info.value)
    assert "resolve failed" in caplog.text


def test_credentials_in_any_section_are_registered(composer, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "vnc-Secret-Pass"
    request = make_request(resource={"type": "dummy", "description": {"vnc_password": secret},
                                     "x": "{{ {}[resource.description.vnc_password] }}"})
    with pytest.raises(TemplateError) as info:
        composer.resolve(request)
    assert secret not in str(info.value)
