"""JS value semantics the assertions rely on: String(), toFixed, JSON.parse, deep equality, comma
lists, and templating with vars."""

from __future__ import annotations

from typing import Any

import pytest

from assertions.jsvalues import (
    deep_strict_equal,
    js_string,
    js_to_fixed,
    js_trim,
    json_equal,
    parse_comma_separated,
    parse_json,
    utf16_length,
)
from assertions.templating import (
    UnsupportedTemplate,
    _js_key_order,
    prepare_vars,
    render,
    render_metric,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (4, "4"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (123456789012345678901, "123456789012345680000"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (True, "true"),
        (None, "null"),
        ([1, None, "a", [2.5]], "1,,a,2.5"),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_js_string_formats_like_javascript(value: Any, expected: str) -> None:
    assert js_string(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.125, "0.13"),
        (1.005, "1.00"),
        (-0.001, "-0.00"),
        (1 / 3, "0.33"),
        (0.5, "0.50"),
        (2.675, "2.67"),
    ],
)
def test_to_fixed_rounds_the_exact_binary_value_half_up(value: float, expected: str) -> None:
    assert js_to_fixed(value, 2) == expected


def test_trim_uses_javascript_whitespace() -> None:
    assert js_trim("\ufeff a \u00a0") == "a"
    assert js_trim("\x1fa") == "\x1fa"  # Python's strip() would remove U+001F


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "{'a': 1}", "01", "", "1 2", '"\t"'])
def test_parse_json_rejects_what_json_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_json(text)


def test_parse_json_reads_every_number_as_a_double() -> None:
    assert parse_json(' {"a": [1, 2.5, 1e400]}\n') == {"a": [1.0, 2.5, float("inf")]}


def test_deep_strict_equal_uses_javascript_types() -> None:
    assert deep_strict_equal({"a": 1, "b": [True]}, {"b": [True], "a": 1.0})
    assert not deep_strict_equal({"a": True}, {"a": 1.0})
    assert not deep_strict_equal([1], {"0": 1})
    assert not deep_strict_equal(0.0, -0.0)
    assert json_equal(0.0, -0.0)
    assert deep_strict_equal({1: "x"}, {"1": "x"})


def test_utf16_length_counts_an_emoji_as_two() -> None:
    assert utf16_length("a😀") == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("red, green ,blue", ["red", "green", "blue"]),
        ('red, "blue, green", yellow', ["red", "blue, green", "yellow"]),
        ('"say ""hi""", "a \\"b\\" \\\\"', ['say "hi"', 'a "b" \\']),
        (" , ,, a ,", ["a"]),
        ("a b", ["a b"]),
        ("", []),
    ],
)
def test_comma_separated_values_parse_like_promptfoo(value: str, expected: list[str]) -> None:
    assert parse_comma_separated(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"open, b', "Unterminated quoted field in contains assertion value"),
        ('"a" b', "Expected comma after quoted field in contains assertion value"),
    ],
)
def test_malformed_comma_lists_are_rejected(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_comma_separated(value)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{name}}!", "Hi Ada!"),
        ("{{ user.city }}/{{ tags[1] }}/{{ tags[0] }}/{{ user['city'] }}", "Paris/b/a/Paris"),
        (
            "n={{ count }} ok={{ ok }} none={{ nothing }} missing={{ missing.x }}",
            "n=3 ok=true none= missing=",
        ),
        ("a  {{- name -}}  b", "aAdab"),
        ("list={{ tags }}", "list=a,b"),
        ("no tags here", "no tags here"),
    ],
)
def test_render_substitutes_variables_like_nunjucks(template: str, expected: str) -> None:
    vars = {
        "name": "Ada",
        "user": {"city": "Paris"},
        "tags": ["a", "b"],
        "count": 3.0,
        "ok": True,
        "nothing": None,
    }
    assert render(template, vars) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{% for x in y %}y{% endfor %}",
        "{# note",
        "{{ name | nosuchfilter }}",
        "{{ a == b }}",
        "{{ name",
        "{{ name.0 }}",
    ],
)
def test_render_refuses_nunjucks_beyond_the_supported_subset(template: str) -> None:
    with pytest.raises(UnsupportedTemplate):
        render(template, {"name": "Ada"})


def test_metric_names_are_rendered_and_kept_raw_when_unsupported() -> None:
    assert render_metric("acc_{{ lang }}", {"lang": "fr"}) == "acc_fr"
    assert render_metric("{{ lang | upper }}", {"lang": "fr"}) == "FR"
    assert render_metric("{{ lang | bogus }}", {"lang": "fr"}) == "{{ lang | bogus }}"
    assert render_metric("{{ lang | first }}", {}) == "{{ lang | first }}"
    assert render_metric(None, {}) is None


# -- vars as promptfoo's renderPrompt prepares them --------------------------------------------


def test_prepare_vars_strips_one_trailing_newline_from_string_vars() -> None:
    assert prepare_vars({"a": "Bob\n", "b": "x\n\n", "c": "y\r\n", "d": 5, "e": ["z\n"]}) == {
        "a": "Bob",
        "b": "x\n",
        "c": "y\r",
        "d": 5,
        "e": ["z\n"],
    }


def test_prepare_vars_resolves_vars_that_reference_other_vars() -> None:
    assert prepare_vars({"a": "{{b}}-ray", "b": "x\n"}) == {"a": "x-ray", "b": "x"}
    assert prepare_vars({"a": "{{ b }} {{ c }}", "b": 1, "c": None}) == {
        "a": "1 null",
        "b": 1,
        "c": None,
    }
    # Only the first placeholder of a var is looked at: an undefined one blocks the rest.
    assert prepare_vars({"a": "{{missing}} {{b}}", "b": "x"})["a"] == "{{missing}} {{b}}"
    # Filters and paths are not placeholders here; Nunjucks renders them later.
    assert prepare_vars({"a": "{{ b | upper }}", "b": "x"})["a"] == "{{ b | upper }}"


def test_prepare_vars_stops_after_five_passes_and_expands_dollar_patterns() -> None:
    assert prepare_vars({"x": "{{y}}", "y": "{{x}}"}) == {"x": "{{x}}", "y": "{{x}}"}
    assert prepare_vars({"a": "<{{b}}>", "b": "$$ $` $' $1"})["a"] == "<$ < > $1>"


def test_prepare_vars_visits_array_index_keys_first_as_object_keys_does() -> None:
    assert _js_key_order(["b", "10", "01", "2", "4294967295"]) == [
        "2",
        "10",
        "b",
        "01",
        "4294967295",
    ]
    # "1" is visited before "b", so b already sees 1's resolved value in the first pass.
    assert prepare_vars({"b": "{{1}}", "1": "{{c}}", "c": "z"}) == {"b": "z", "1": "z", "c": "z"}
