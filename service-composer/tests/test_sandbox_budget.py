"""The render budget covers every way a template can build a string, before it is built.

Each way (``~``, ``+``, ``*``, join, formatting, filters, loops, macros and blocks,
integers, containers) has hostile inputs that must end in the composer's located
``TemplateLimitError`` quickly (the timeout marks), with the default limits, which a real
contextualisation never meets (the last tests show large but reasonable templates
rendering). A property test composes random string-building expressions: 200 examples,
a few seconds; set OCCO_FUZZ_EXAMPLES (e.g. 5000) for a longer local run.
"""

from __future__ import annotations

import os
import sys

import pytest
from conftest import make_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from occo.servicecomposer import (
    MemoryLookup,
    RenderLimits,
    ServiceComposer,
    TemplateError,
    TemplateLimitError,
)

BIG = "z" * 999_999  # just under the default max_output
HEAD = "{# line 1 #}\n{# line 2 #}\n"  # every hostile template's work is on line 3


def render(composer: ServiceComposer, text: str, **variables):
    request = make_request(resource={"type": "dummy", "value": text},
                           variables={"big": BIG, **variables})
    return composer.resolve(request).resource["value"]


def refused(composer: ServiceComposer, text: str, *, line: int | None = 3,
            **variables) -> str:
    """The message of the located limit error ``text`` gets."""
    with pytest.raises(TemplateLimitError) as info:
        render(composer, HEAD + text, **variables)
    message = str(info.value)
    assert "resource.value" in message and "node 'web' (type 'web_node')" in message
    assert "refused:" in message and "Traceback" not in message
    if line is not None:
        assert f"template line {line}:" in message
    assert info.value.exit_code == 2 and info.value.node == "web"
    assert "set_int_max_str_digits" not in message
    return message


S = "{% set s = 'x' * 999999 %}"  # a string the template may build; two of them may not

WAYS = {
    "tilde": [
        (S + "{{ s ~ s }}", "'~' would build a text of at least 1999998"),
        ("{{ variables.big ~ 'y' * 2 }}", "'~' would build a text of at least 1000001"),
        (S + "{{ (s ~ s)|length }}", "'~' would build"),
        ("{% set ns = namespace(v='ab') %}{% for i in range(64) %}"
         "{% set ns.v = ns.v ~ ns.v %}{% endfor %}{{ ns.v|length }}", "'~' would build"),
        (S + "{{ [s] ~ [s] }}", "'~' would build a text of at least 2000006"),
        ("{{ (range(99999)|list) ~ (range(99999)|list) }}", "'~' would build"),
        (S + "{{ s ~ 1 ~ s }}", "'~' would build a text of at least 1999999"),
        (S + "{{ s ~ 10 ** 300 ~ s }}", "'~' would build a text of at least 2000298"),
    ],
    "plus": [
        (S + "{{ s + s }}", "a value of 1999998 characters was built"),
        ("{% set ns = namespace(v='ab') %}{% for i in range(64) %}"
         "{% set ns.v = ns.v + ns.v %}{% endfor %}", "characters was built"),
        ("{% set ns = namespace(v=[1]) %}{% for i in range(64) %}"
         "{% set ns.v = ns.v + ns.v %}{% endfor %}", "items was built"),
        (S + "{% set ns = namespace(v=[s]) %}{% for i in range(64) %}"
         "{% set ns.v = ns.v + ns.v %}{% endfor %}", "a collection whose text is at least"),
        ("{{ variables.big + variables.big }}", "a value of 1999998 characters"),
    ],
    "times": [
        ("{{ 'x' * 10**9 }}", "repeating a value 1000000000 times"),
        ("{{ 10**9 * 'ab' }}", "repeating a value 1000000000 times"),
        ("{{ ['x'] * 10**9 }}", "repeating a value 1000000000 times"),
        (S + "{{ ([s] * 99999)|length }}", "a collection whose text is at least 99999"),
        (S + "{{ ((s,) * 50)|first }}", "a collection whose text is at least 50000"),
        ("{{ variables.big * 2 }}", "repeating a value 2 times would build 1999998"),
    ],
    "join": [
        (S + "{{ [s, s]|join }}", "join() would build a value of about 1999998"),
        (S + "{{ (s, 'y')|join(s) }}", "join() would build"),
        (S + "{{ ''.join([s, s]) }}", "join() would build"),
        (S + "{{ '-'.join(range(3)|map('replace', '', s)) }}", "replace() would build"),
        (S + "{{ [s]|map('lower')|join ~ s }}", "'~' would build"),
        (S + "{{ [[s], [s]]|join }}", "join() would build"),
        ("{{ [variables.big, variables.big]|join(',') }}", "join() would build"),
    ],
    "format": [
        (S + "{{ '%s%s'|format(s, s) }}", "the format filter would build a text of at least"),
        (S + "{{ '%s %s' % (s, s) }}", "'%' formatting would build a text of at least 1999999"),
        (S + "{{ '%(a)s%(a)s' % {'a': s} }}", "'%' formatting would build"),
        ("{{ ('%(a)s' * 9999) % {'a': 'x' * 999} }}", "'%' formatting would build"),
        (S + "{{ '%s' % ([s, s],) }}", "'%' formatting would build"),
        (S + "{{ '{0}{0}'.format(s) }}", "str.format() would build a text of at least 1999998"),
        (S + "{{ '{}-{}'.format(s, s) }}", "str.format() would build"),
        (S + "{{ '{x}{x}'.format_map({'x': s}) }}", "str.format_map() would build"),
        ("{{ ('{0}' * 99999).format('x' * 999) }}", "str.format() would build"),
        ("{{ '%0999999999d' % 1 }}", "a format width or precision of 999999999 exceeds"),
        ("{{ '{:>999999999}'.format(1) }}", "a format width or precision of 999999999"),
    ],
    "filters": [
        ("{{ 'x'|center(10**9) }}", "the center filter would build"),
        (S + "{{ s|indent(2, true) }}", "the indent filter would build"),
        ("{{ ('x\\n' * 400000)|indent(10) }}", "the indent filter would build"),
        ("{{ variables.big|wordwrap(1) }}", "the wordwrap filter would copy about"),
        ("{{ ('x' * 200000)|wordwrap(5) }}", "it would not end within the deadline"),
        ("{{ ('x ' * 499999)|wordwrap(1, false) }}", "would wrap 499999 words and parts"),
        ("{{ ('x-' * 499999)|wordwrap(3, false) }}", "would wrap 499999 words and parts"),
        ("{{ ('x' * 99999)|wordwrap(10, wrapstring='y' * 9999) }}",
         "the wordwrap filter would build"),
        (S + "{{ s|replace('x', 'yy') }}", "replace() would build a value of about 1999998"),
        (S + "{{ s|replace('x', variables.big) }}", "replace() would build"),
        (S + "{{ s|replace('', '-') }}", "replace() would build a value of about 1999999"),
        (S + "{{ s.replace('x', 'yy') }}", "replace() would build"),
        (S + "{{ s|list|length }}", "a collection of 999999 items was built"),
        (S + "{{ [s, s]|string }}", "the string filter would build"),
        (S + "{{ [s, s]|pprint }}", "the pprint filter would build"),
        (S + "{{ [s, s]|tojson }}", "the tojson filter would build"),
        ("{{ [[[[[[1]]]]]]|tojson(indent=999999) }}", "the tojson filter (indented)"),
        (S + "{{ {'a': s, 'b': s}|urlencode }}", "the urlencode filter would build"),
        (S + "{{ {'a': s, 'b': s}|xmlattr }}", "the xmlattr filter would build"),
        ("{{ ('<' * 999999)|e }}", "characters was built"),
        ("{{ [1]|batch(10**9, 'x')|list }}", "the batch filter would build 1000000000 items"),
        ("{{ [1]|slice(10**9)|list }}", "the slice filter would build 1000000000 items"),
        ("{{ (['ab' * 500] * 9999)|sum(start='') }}", "the sum filter would build"),
        ("{{ ([[1] * 99] * 9999)|sum(start=[]) }}", "the sum filter would build 989901 items"),
        ("{{ ([[1] * 9] * 9999)|sum(start=[]) }}", "the sum filter would copy about"),
        (S + "{{ '%s%s'|format(s, s) }}", "the format filter would build a text of at least"),
        ("{{ range(10**9)|list }}", "range() of 1000000000 items"),
        ("{{ ('x' * 999999).translate({120: 'yy'}) }}", "str.translate() would build"),
    ],
    "loops": [
        ("{% for i in range(100000) %}{{ variables.big }}{% endfor %}",
         "the output exceeds the limit of 1000000"),
        ("{% for i in range(99999) %}{% for j in range(99999) %}{{ 'x' * 50 }}"
         "{% endfor %}{% endfor %}", "the output exceeds"),
        ("{% for i in range(20000) %}{% set x = 'y' * 5000 %}{% endfor %}",
         "the render built more than 20000000"),
        ("{% for i in range(99999) %}{% set x = [variables.big] * 30 %}{% endfor %}",
         "a collection whose text is at least"),
    ],
    "macros and blocks": [
        ("{% macro f() %}{% for i in range(100000) %}{{ variables.big }}{% endfor %}"
         "{% endmacro %}{{ f()|length }}", "the render built more than 20000000"),
        ("{% macro f() %}{% for i in range(100000) %}" + "w" * 900 + "{% endfor %}"
         "{% endmacro %}{{ f()|length }}", "the render built more than 20000000"),
        ("{% set x %}{% for i in range(100000) %}{{ variables.big }}{% endfor %}"
         "{% endset %}{{ x|length }}", "the render built more than"),
        ("{% filter length %}{% for i in range(100000) %}{{ variables.big }}{% endfor %}"
         "{% endfilter %}", "the render built more than"),
        ("{% macro m() %}{{ caller()|length }}{% endmacro %}{% call m() %}"
         "{% for i in range(100000) %}{{ variables.big }}{% endfor %}{% endcall %}",
         "the render built more than"),
        ("{% macro f(n) %}{% if n %}{{ f(n - 1) ~ f(n - 1) }}{% else %}{{ 'xy' * 999 }}"
         "{% endif %}{% endmacro %}{{ f(30)|length }}", "the render built more than"),
        ("{% for n in [[variables.big]] * 30 recursive %}{{ loop(n) if n is not string "
         "else n }}{% endfor %}", None),
    ],
    "integers": [
        ("{{ 2 ** 100000 }}", "2 ** 100000 is too large to compute"),
        ("{{ (2 ** 100000)|string }}", "2 ** 100000 is too large"),
        ("{{ (2 ** 4000) * (2 ** 4000) }}",
         "an integer of 8001 bits (about 2409 digits); the limit is 4096 bits"),
        ("{{ 10 ** 5000 }}", "10 ** 5000 is too large"),
        ("{{ '%d' % 7 ** 9000 }}", "7 ** 9000 is too large"),
        ("{% set ns = namespace(v=3) %}{% for i in range(40) %}{% set ns.v = ns.v * ns.v %}"
         "{% endfor %}", "bits"),
        ("{{ 'n=' ~ variables.huge }}", "an integer of 16610 bits"),
        ("{{ variables.huge }} is a big number", "an integer of 16610 bits"),
        ("{{ variables.huge }}", "an integer of 16610 bits"),
    ],
    "containers": [
        (S + "{{ {}.fromkeys(range(99999), s)|length }}", "a collection whose text"),
        (S + "{{ dict(a=s, b=s) }}", "showing this value would build a text of at least"),
        (S + "{{ [s, s] }}", "showing this value would build"),
        (S + "{% set b = [s, s, s, s, s, s, s, s, s, s] %}{% set c = [b, b, b] %}"
         "{% set d = [c, c, c] %}{{ d|length }}", "a collection whose text is at least"),
        (S + "{% set ns = namespace(a=[s]) %}{% for i in range(30) %}"
         "{% set ns.a = [ns.a, ns.a] %}{% endfor %}{{ ns }}", "a collection whose text"),
        (S + "{{ (s, s) }}", "showing this value would build"),
    ],
}


def _cases():
    for way, cases in WAYS.items():
        for i, (text, fragment) in enumerate(cases):
            yield pytest.param(text, fragment, id=f"{way}-{i}")


@pytest.mark.timeout(15)
@pytest.mark.parametrize("text, fragment", list(_cases()))
def test_every_way_of_building_a_string_is_bounded(composer, text, fragment):
    huge = 10 ** 5000 if "variables.huge" in text else None
    message = refused(composer, text, huge=huge)
    if fragment is not None:
        assert fragment in message, message


def test_every_way_has_cases():
    assert all(len(cases) >= 4 for cases in WAYS.values())


@pytest.mark.timeout(15)
def test_a_huge_integer_is_the_sandboxs_error_even_under_raised_limits(lookup):
    """Limits set above what Python can turn into text still refuse, by the sandbox."""
    limits = RenderLimits(max_int_bits=1_000_000)
    digits = sys.get_int_max_str_digits()
    with ServiceComposer(lookup, limits=limits) as sc:
        message = refused(sc, "{{ 2 ** 60000 }}")
        assert f"integers of more than {digits} digits cannot be shown as text" in message
        assert render(sc, "{{ (2 ** 12000)|string|length }}") == 3613


@pytest.mark.timeout(15)
@pytest.mark.parametrize("text", [
    "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "{% set r = range(99999)|list %}{% for i in range(1000) %}{{ r|sort|length }}"
    "{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
    "{{ f(40) }}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) ~ f(n - 1) }}{% else %}xy{% endif %}"
    "{% endmacro %}{{ f(30)|length }}",
    "{% for i in range(99999) %}{% set x = ('ab' * 10000)|replace('a', 'cc') %}"
    "{% endfor %}",
])
def test_work_within_the_sizes_still_stops_at_the_deadline(lookup, text):
    with ServiceComposer(lookup, limits=RenderLimits(max_seconds=0.5)) as sc:
        message = refused(sc, text, line=None)
    assert "the render took longer than 0.5 s" in message or "built more than" in message


@pytest.mark.parametrize("name, value", [
    ("max_seconds", 0), ("max_output", -1), ("max_items", 0), ("max_int_bits", 0),
    ("max_built", 0)])
def test_limits_must_be_positive(name, value):
    with pytest.raises(ValueError, match=f"RenderLimits.{name} must be positive"):
        RenderLimits(**{name: value})


# -- legitimate large templates ------------------------------------------------------

@pytest.mark.timeout(30)
def test_a_large_cloud_config_renders(composer):
    text = ("#cloud-config\nwrite_files:\n{% for i in range(3000) %}- path: /etc/app/{{ i }}"
            "\n  content: |\n    {{ ['a', 'b', i]|join(',') }} {{ {'k': i}|tojson }} "
            "{{ '%05d' % i }} {{ 'n' ~ i }} {{ ('v' ~ i)|center(12) }}\n{% endfor %}"
            "{% macro m(x) %}<{{ x }}>{% endmacro %}{% for i in range(3000) %}{{ m(i) }}"
            "{% endfor %}")
    out = render(composer, text)
    assert out.startswith("#cloud-config\nwrite_files:\n- path: /etc/app/0\n")
    assert "a,b,2999 {\"k\": 2999} 02999 n2999 " in out and out.endswith("<2999>")
    assert len(out) > 200_000


@pytest.mark.timeout(30)
def test_values_up_to_the_limits_render(composer):
    assert render(composer, "{{ 'x' * 999999 }}") == "x" * 999_999
    assert render(composer, "{{ variables.big }}") == BIG
    assert render(composer, "{{ range(50000)|list }}") == list(range(50_000))
    text = "{{ (['line of text'] * 20000)|join('\n')|wordwrap(40)|length }}"
    assert render(composer, text) == 259_999
    text = "{{ dict.fromkeys(range(1000), 'v')|tojson(indent=2)|length }}"
    assert render(composer, text) > 10_000
    text = "{% set ns = namespace(v='') %}{% for i in range(2000) %}" \
           "{% set ns.v = ns.v ~ i ~ ',' %}{% endfor %}{{ ns.v|length }}"
    assert render(composer, text) == "8890"
    assert render(composer, "{{ (2 ** 4000)|string|length }}") == 1205
    assert render(composer, "{% for a, b in [(1, 2)] %}{{ a ~ b }}{% endfor %}") == "12"
    assert render(composer, "{{ variables.big|replace('z', 'y') }}") == "y" * 999_999
    assert render(composer, "{{ variables.big|wordwrap(10, false) }}") == BIG  # no copying
    assert render(composer, "{{ ('abc ' * 1000)|wordwrap(3, true, '|')|length }}") == 3999


# -- property: random string-building expressions --------------------------------------

LIMITS = RenderLimits(max_seconds=0.5, max_output=100_000, max_items=10_000,
                      max_built=2_000_000)

_atoms = st.sampled_from([
    "'ab'", "'x' * 999", "variables.s", "variables.long", "[1, 2]", "(range(9)|list)",
    "{'k': 'v'}", "7", "99999", "(10 ** 300)", "''", "'%s'", "'{}{}'", "'<>'",
])
_sizes = st.sampled_from(["0", "2", "10", "999", "99999", "10**9"])


def _grow(inner):
    return st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} ~ {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} + {p[1]})"),
        st.tuples(inner, _sizes).map(lambda p: f"({p[0]} * {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"[{p[0]}, {p[1]}]|join({p[0]})"),
        st.tuples(inner, inner).map(lambda p: f"('%s%s'|format({p[0]}, {p[1]}))"),
        st.tuples(inner, inner).map(lambda p: f"('{{}}{{0}}'.format({p[0]}, {p[1]}))"),
        st.tuples(inner, inner).map(lambda p: f"('%s' % ({p[0]}, {p[1]}))"),
        st.tuples(inner, _sizes).map(lambda p: f"({p[0]}|center({p[1]}))"),
        st.tuples(inner, _sizes).map(lambda p: f"({p[0]}|indent({p[1]}, true))"),
        st.tuples(inner, _sizes).map(lambda p: f"({p[0]}|wordwrap({p[1]} + 1))"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]}|replace('a', {p[1]}))"),
        st.tuples(inner, _sizes).map(lambda p: f"({p[0]}|batch({p[1]} + 1)|list)"),
        st.tuples(inner, inner).map(lambda p: f"[{p[0]}, {p[1]}, {p[0]}]"),
        inner.map(lambda e: f"({e}|string)"),
        inner.map(lambda e: f"({e}|tojson)"),
        inner.map(lambda e: f"({e}|pprint)"),
        inner.map(lambda e: f"({e}|list)"),
        inner.map(lambda e: f"({e}|urlencode)"),
        inner.map(lambda e: f"({e} ** 99)"),
    )


_expressions = st.recursive(_atoms, _grow, max_leaves=8)


@pytest.fixture(scope="module")
def random_composer():
    with ServiceComposer(MemoryLookup(), limits=LIMITS) as sc:
        yield sc


def _template(kind: str, expr: str, size: str) -> str:
    if kind == "value":
        return "{{ " + expr + " }}"
    if kind == "text":
        return "[{{ " + expr + " }}]"
    if kind == "loop":
        return f"{{% for i in range({size}) %}}{{{{ {expr} }}}}{{% endfor %}}"
    if kind == "accumulate":
        return (f"{{% set ns = namespace(v={expr}) %}}{{% for i in range(60) %}}"
                "{% set ns.v = ns.v ~ ns.v %}{% endfor %}{{ ns.v }}")
    return (f"{{% macro f(n) %}}{{% if n %}}{{{{ f(n - 1) }}}}{{{{ f(n - 1) }}}}"
            f"{{% else %}}{{{{ {expr} }}}}{{% endif %}}{{% endmacro %}}{{{{ f(14) }}}}")


@pytest.mark.timeout(180)
@settings(max_examples=int(os.environ.get("OCCO_FUZZ_EXAMPLES", "200")), deadline=None,
          database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["value", "text", "loop", "accumulate", "macro"]),
       expr=_expressions, size=_sizes)
def test_random_string_building_renders_or_is_a_located_limit_error(
        random_composer, kind, expr, size):
    text = _template(kind, expr, size)
    request = make_request(resource={"type": "dummy", "value": text},
                           variables={"s": "abc", "long": "y" * 50_000})
    try:
        value = random_composer.resolve(request).resource["value"]
    except TemplateError as exc:  # a limit, or a type mistake (e.g. int ~ list|join)
        message = str(exc)
        assert "node 'web' (type 'web_node')" in message and "resource.value" in message
        assert "set_int_max_str_digits" not in message and "MemoryError" not in message
        assert "out of memory" not in message  # the budget refuses before that
        if isinstance(exc, TemplateLimitError):
            assert "refused:" in message
        return
    shown = value if isinstance(value, str) else repr(value)
    assert len(shown) <= 3 * LIMITS.max_output  # typed values: their repr may quote
