"""The Nunjucks subset used to render assertion values and metric names (`nunjucks`)."""

from __future__ import annotations

from typing import Any

import pytest

from assertions import Assertion, validate_assertion
from assertions.nunjucks import TemplateRenderError, UnsupportedTemplate, render
from assertions.templating import check_template

VARS: dict[str, Any] = {
    "name": "ada lovelace",
    "padded": "  hi \n",
    "tags": ["a", "b", None],
    "user": {"city": "Paris", "1": "one"},
    "n": 3,
    "x": 1.5,
    "ok": True,
    "nothing": None,
    "html": "<b>&</b>",
    "text": "a-b-c",
}


def r(template: str) -> str:
    return render(template, VARS)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{ \'it\\\'s\' }}|{{ "say \\"hi\\"" }}', 'it\'s|say "hi"'),
        ("{{ 'a\\nb\\tc\\\\d\\qe' }}", "a\nb\tc\\dqe"),
        ("{{ 42 }} {{ 1.50 }} {{ 007 }}", "42 1.5 7"),
        ("{{ true }} {{ false }} [{{ none }}] [{{ null }}] [{{ True }}]", "true false [] [] []"),
        ("{{ 2. }} {{ 0.25 }}", "2 0.25"),
        ("{{ '}}' }}", "}}"),
    ],
)
def test_literals_render_as_javascript_strings(template: str, expected: str) -> None:
    assert r(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ user.city }} {{ user['city'] }} {{ user[\"city\"] }}", "Paris Paris Paris"),
        ("{{ user[1] }} {{ user['1'] }}", "one one"),
        ("{{ tags[0] }}{{ tags['1'] }}[{{ tags[2] }}][{{ tags[9] }}]", "ab[][]"),
        ("{{ tags.length }} {{ name.length }} {{ name[0] }}", "3 12 a"),
        ("[{{ missing.deep.path }}][{{ nothing.x }}][{{ n.x }}]", "[][][]"),
    ],
)
def test_lookups_follow_javascript_member_access(template: str, expected: str) -> None:
    assert r(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 1 + 1 }}", "2"),
        ("{{ x + n }}", "4.5"),
        ("{{ 'n=' + n }}", "n=3"),
        ("{{ n + 1 + 'a' }}", "4a"),
        ("{{ 'a' + (n + 1) }}", "a4"),
        ("{{ tags + 1 }}", "a,b,1"),
        ("{{ nothing + 1 }} {{ ok + 1 }} {{ missing + 1 }}", "1 2 NaN"),
        ("{{ 'x' ~ n ~ missing }}", "x3undefined"),
        ("{{ 'a' ~ n + 1 }}", "a4"),
        ("{{ 0.1 + 0.2 }}", "0.30000000000000004"),
    ],
)
def test_plus_adds_or_concatenates_as_javascript_does(template: str, expected: str) -> None:
    assert r(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ name | upper }}", "ADA LOVELACE"),
        ("{{ 'ÄB' | lower }}", "äb"),
        ("{{ 'hELLO world' | capitalize }}", "Hello world"),
        ("{{ name | title }}", "Ada Lovelace"),
        ("[{{ padded | trim }}]", "[hi]"),
        ("{{ tags | length }} {{ user | length }} {{ missing | length }}", "3 2 0"),
        ("{{ missing | default('d') }} [{{ nothing | default('d') }}]", "d []"),
        ("{{ nothing | default('d', true) }} {{ '' | d('e', true) }}", "d e"),
        ("{{ tags | join(', ') }}|{{ tags | join }}", "a, b, |ab"),
        ("{{ text | replace('-', '+') }} {{ text | replace('-', '', 1) }}", "a+b+c ab-c"),
        ("{{ 'ab' | replace('', '.') }}", ".a.b."),
        ("{{ tags | first }}{{ name | last }}{{ name | first }}", "aea"),
        ("{{ ' 42.9px' | int }} {{ '4.5e1x' | float }} [{{ 'x' | int }}]", "42 45 []"),
        ("{{ 'x' | int(7) }} {{ n | float }}", "7 3"),
        ("{{ n | string }}{{ ok | string }}", "3true"),
        ("{{ user | dump }} {{ tags | dump }}", '{"city":"Paris","1":"one"} ["a","b",null]'),
    ],
)
def test_filters_behave_as_in_nunjucks(template: str, expected: str) -> None:
    assert r(template) == expected


def test_dump_indents_with_a_number_of_spaces_as_json_stringify_does() -> None:
    assert (
        render("{{ v | dump(2) }}", {"v": {"a": [1, {}]}}) == '{\n  "a": [\n    1,\n    {}\n  ]\n}'
    )


def test_filters_chain_and_bind_tighter_than_plus() -> None:
    assert r("{{ name | title | replace(' ', '_') | lower }}") == "ada_lovelace"
    assert r("{{ 'a' + name | upper }}") == "aADA LOVELACE"
    assert r("{{ (name + '!') | upper }}") == "ADA LOVELACE!"


def test_there_is_no_html_autoescaping_unless_the_escape_filter_is_used() -> None:
    assert r("{{ html }} {{ html | escape }}") == "<b>&</b> &lt;b&gt;&amp;&lt;/b&gt;"


def test_raw_blocks_keep_their_content_verbatim() -> None:
    assert r("{% raw %}{{ name }} {# c #} {% if %}{% endraw %}") == "{{ name }} {# c #} {% if %}"
    assert r("{%verbatim%}{{x}}{%endverbatim%}") == "{{x}}"
    assert r("{% raw %}a{% raw %}b{% endraw %}c{% endraw %}") == "a{% raw %}b{% endraw %}c"


def test_raw_block_whitespace_control_trims_outside_the_block_as_nunjucks_does() -> None:
    assert r("a {%- raw -%}  {{x}}  {% endraw %} b") == "a  {{x}}  b"


def test_comments_are_removed_with_optional_whitespace_trimming() -> None:
    assert r("a{# note {{ x }} #}b") == "ab"
    assert r("a  {#- note -#}  b") == "ab"


def test_whitespace_control_trims_the_neighbouring_text() -> None:
    assert r("a \n {{- n -}} \n b") == "a3b"
    assert r("a {{ n -}} b") == "a 3b"


@pytest.mark.parametrize(
    "template",
    [
        "{% for x in tags %}y{% endfor %}",
        "{% set a = 1 %}",
        "{% if ok %}y",
        "{% if ok %}a{% else %}b{% elif n %}c{% endif %}",
        "{% if ok %}a{% endif x %}",
        "{% endif %}",
        "{% if n == 3 %}y{% endif %}",
        "{% if 'a' in tags %}y{% endif %}",
        "{% if n is defined %}y{% endif %}",
        "{{ name if ok }}",
        "{% raw %}never closed",
        "{% raw %}x{%- endraw %}",
        "{% raw %}x{% endraw -%}",
        "{{ tags.0 }}",
        "{{ user.true }}",
        "a #} b",
        "{# never closed",
        "{{ name",
        "{{ }}",
        "{{ name | nosuchfilter }}",
        "{{ a not in b }}",
        "{{ a != b }}",
        "{{ n * 2 }}",
        "{{ n - 1 }}",
        "{{ name.upper() }}",
        "{{ name | default(a=1) }}",
        "{{ 'open }}",
        "{{ a. }}",
    ],
)
def test_syntax_outside_the_subset_is_refused_before_rendering(template: str) -> None:
    with pytest.raises(UnsupportedTemplate):
        check_template(template)


@pytest.mark.parametrize(
    "template",
    [
        "{{ n | upper }}",
        "{{ missing | trim }}",
        "{{ missing | first }}",
        "{{ nothing | last }}",
        "{{ name | join(',') }}",
        "{{ missing | string }}",
    ],
)
def test_filters_that_throw_in_nunjucks_raise_a_render_error(template: str) -> None:
    check_template(template)
    with pytest.raises(TemplateRenderError):
        r(template)


def test_filter_edge_cases_follow_the_nunjucks_source() -> None:
    assert (
        r("{{ text | replace('-', '', 0) }} {{ text | replace('-', '', '-1') }}") == "a-b-c a-b-c"
    )
    assert r("{{ text | replace('-', '+', 1.5) }} {{ 1234 | replace(2, 'x') }}") == "a+b+c 1x34"
    assert r("{{ tags | join(0) }}|{{ tags | dump('--') }}") == 'ab|[\n--"a",\n--"b",\n--null\n]'
    assert r("{{ x | int }} {{ nothing | int(5) }} {{ ' -0012' | int }} [{{ tags | int }}]") == (
        "1 5 -12 []"
    )
    assert r("{{ nothing | default('x', 1) }} {{ ok | default('x', 1) }}") == "x true"
    assert r("{{ 'ÉCOLE normale' | capitalize }}") == "École normale"


def test_validation_accepts_the_supported_subset_in_values_and_metrics() -> None:
    validate_assertion(
        Assertion.model_validate(
            {"type": "equals", "value": "{{ name | upper }}", "metric": "{{ lang ~ '_acc' }}"}
        )
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% if ok %}yes{% endif %}", "yes"),
        ("{% if missing %}yes{% else %}no{% endif %}", "no"),
        ("{% if nothing %}a{% elif n %}b{% else %}c{% endif %}", "b"),
        ("{% if 0 %}a{% elseif '' %}b{% else %}c{% endif %}", "c"),
        ("{% if tags %}list{% endif %}{% if user %}-dict{% endif %}", "list-dict"),
        ("{% if user %}{% if tags %}both{% endif %}{% endif %}", "both"),
        ("{% if not missing and ok %}y{% endif %}", "y"),
        ("{% if missing or nothing %}y{% else %}n{% endif %}", "n"),
        ("{% if name | length %}{{ name | upper }}{% endif %}", "ADA LOVELACE"),
    ],
)
def test_if_blocks_choose_the_first_truthy_branch(template: str, expected: str) -> None:
    assert r(template) == expected


def test_and_or_return_an_operand_and_not_a_boolean_as_javascript_does() -> None:
    assert r("{{ missing or 'dflt' }}|{{ n and name }}|{{ 0 and name }}|{{ not n }}") == (
        "dflt|ada lovelace|0|false"
    )


def test_if_tags_trim_whitespace_with_dashes() -> None:
    assert r("a  {%- if ok -%}  b  {%- endif -%}  c") == "abc"
    assert r("a\n{% if ok %}\nb\n{% endif %}\nc") == "a\n\nb\n\nc"
