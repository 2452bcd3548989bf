"""The YAML reader reads as promptfoo's js-yaml does (YAML 1.2 core schema) and refuses hostile
input by naming the limit it passes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from assertions.jsyaml import (
    YAML_MAX_CHARS,
    YAML_MAX_DEPTH,
    YAML_MAX_NODES,
    YamlDocumentTooLarge,
    YamlError,
    YamlExpansionTooLarge,
    YamlUnsupported,
    load_yaml,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # YAML 1.1 booleans, sexagesimals and old octals are not YAML 1.2's.
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("Off", "Off"),
        ("y", "y"),
        ("12:30", "12:30"),
        ("1:20:30", "1:20:30"),
        ("0777", 777),
        ("0o777", 511),
        ("0x1F", 31),
        ("0b101", 5),
        ("-0x10", -16),
        ("1_000", "1_000"),
        ("007", 7),
        ("-0", 0),
        ("+12", 12),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", "-.5"),  # js-yaml's float pattern takes no sign before a bare fraction
        ("-.inf", -math.inf),
        ("true", True),
        ("TRUE", True),
        ("False", False),
        ("~", None),
        ("Null", None),
        ("", None),
        ("'0777'", "0777"),
        ('"yes"', "yes"),
        ("!!str 12", "12"),
        ("!!float 1", 1.0),
        ("9007199254740993", 9007199254740992.0),  # a JS number
    ],
)
def test_scalars_resolve_as_js_yaml_resolves_them(text: str, expected: Any) -> None:
    assert load_yaml(f"v: {text}") == {"v": expected}


def test_nan_is_a_float() -> None:
    assert math.isnan(load_yaml("v: .NaN")["v"])


def test_a_promptfoo_suite_reads_as_js_yaml_reads_it() -> None:
    text = """
tests:
  - description: greets
    vars: {input: yes, time: 12:30, mode: 0777, flags: 0o777}
    assert:
      - type: contains
        value: |
          Hello
      - &sure {type: icontains, value: hi}
      - *sure
"""
    assert load_yaml(text) == {
        "tests": [
            {
                "description": "greets",
                "vars": {"input": "yes", "time": "12:30", "mode": 777, "flags": 511},
                "assert": [
                    {"type": "contains", "value": "Hello\n"},
                    {"type": "icontains", "value": "hi"},
                    {"type": "icontains", "value": "hi"},
                ],
            }
        ]
    }


def test_keys_are_javascript_strings() -> None:
    assert load_yaml("1: a\ntrue: b\n~: c\n1.50: d") == {
        "1": "a",
        "true": "b",
        "null": "c",
        "1.5": "d",
    }


def test_merge_keys_fill_in_without_overriding() -> None:
    text = "base: &b {x: 1, y: 2}\nboth:\n  y: 0\n  <<: [*b, {z: 3}]\n  x: 9"
    assert load_yaml(text)["both"] == {"y": 0, "x": 9, "z": 3}


def test_a_duplicated_key_throws_unless_read_as_json() -> None:
    with pytest.raises(YamlError, match="duplicated mapping key 'a'"):
        load_yaml("a: 1\na: 2")
    assert load_yaml("a: 1\na: 2", json=True) == {"a": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("--- 1\n--- 2", "expected a single document"),
        ("a: *nowhere", 'unidentified alias "nowhere"'),
        ("a: [1,", "expected the node content"),
        ("a: !!int x", "cannot resolve a node with !<tag:yaml.org,2002:int> explicit tag"),
        ("<<: 1", "cannot merge mappings"),
    ],
)
def test_what_js_yaml_throws_on_is_an_error(text: str, message: str) -> None:
    with pytest.raises(YamlError, match=message):
        load_yaml(text)


@pytest.mark.parametrize(
    "text", ["a: !custom 1", "a: !!binary aGk=", "a: 2024-01-01", "? [1]\n: x"]
)
def test_what_this_reader_cannot_represent_is_unsupported(text: str) -> None:
    with pytest.raises(YamlUnsupported):
        load_yaml(text)


def test_timestamps_can_be_kept_as_written() -> None:
    assert load_yaml("d: 2024-01-01", timestamps="keep") == {"d": "2024-01-01"}


def test_a_billion_laughs_is_refused_at_once_naming_the_limit() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{', '.join([f'*{previous}'] * 9)}]")
    # Expanded, it would hold 9^10 strings: refused once the budget is spent, not after.
    with pytest.raises(YamlExpansionTooLarge, match=f"the limit is {YAML_MAX_NODES}"):
        load_yaml("\n".join(lines))


def test_aliases_within_the_budget_are_expanded() -> None:
    text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]"
    assert load_yaml(text)["b"] == [[1, 2, 3]] * 3


def long_strings_aliased(length: int, uses: int) -> str:
    return f"a: &a {'x' * length}\nb: [{', '.join(['*a'] * uses)}]"


def test_aliases_expanding_past_the_size_limit_are_refused_naming_the_limit() -> None:
    # Few nodes, but each use of the alias repeats 50,000 characters: 1,050,000 in all.
    with pytest.raises(
        YamlExpansionTooLarge, match=f"more than {YAML_MAX_CHARS} characters.*the limit is"
    ):
        load_yaml(long_strings_aliased(50_000, 20))
    assert len(load_yaml(long_strings_aliased(50_000, 18))["b"]) == 18


def test_a_document_over_the_size_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(YamlDocumentTooLarge, match=f"the limit is {YAML_MAX_CHARS}"):
        load_yaml("a: " + "x" * YAML_MAX_CHARS)


def test_nesting_deeper_than_the_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(YamlExpansionTooLarge, match=f"the limit is {YAML_MAX_DEPTH}"):
        load_yaml("[" * (YAML_MAX_DEPTH + 1) + "]" * (YAML_MAX_DEPTH + 1))
    assert load_yaml("[" * 10 + "]" * 10) == [[[[[[[[[[]]]]]]]]]]
