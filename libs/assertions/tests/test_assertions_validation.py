"""validate_assertion: what is refused before a run, and what is accepted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from assertions import (
    SUPPORTED_TYPES,
    Assertion,
    InvalidAssertion,
    UnsupportedAssertion,
    validate_assertion,
)


def a(type: str, value: Any = None, **fields: Any) -> Assertion:
    return Assertion(type=type, value=value, **fields)


VALID = [
    a("equals", ""),
    a("equals", {"a": 1}),
    a("contains", 0),
    a("icontains", "x"),
    a("contains-any", "a, b"),
    a("contains-all", ["a", 1]),
    a("icontains-any", ["a"]),
    a("icontains-all", "{{ words }}"),
    a("regex", r"^\d{3}-\d{4}$"),
    a("regex", "{{ pattern }}"),
    a("starts-with", "Hello"),
    a("is-json"),
    a("is-json", {"type": "object", "required": ["a"]}),
    a("is-json", '{"type": "array"}'),
    a("is-json", True),
    a("contains-json", {"properties": {"a": {"pattern": "^x"}}}),
    a("levenshtein", "", threshold=0),
    a("latency", threshold=500),
    a("latency", metric="latency_ms"),
    a("not-latency", threshold=0),
    a("llm-rubric", "is polite", threshold=0.8),
    a("llm-rubric", {"criteria": "polite"}),
    a("similar", "hello", threshold=0),
    a("similar", ["hi", "hello"], threshold=1),
    a("similar:cosine", "hello"),
    a("similar:dot", "hello", threshold=-3),
    a("similar:euclidean", "hello", threshold=2),
    a("not-contains", "sorry", weight=0, metric="apology_{{ lang }}"),
    a("contains", "x", threshold=42),
]


@pytest.mark.parametrize("assertion", VALID, ids=lambda x: x.type)
def test_runnable_assertions_are_accepted(assertion: Assertion) -> None:
    validate_assertion(assertion)


def test_every_supported_type_has_an_accepted_example() -> None:
    assert {x.type.removeprefix("not-") for x in VALID} == SUPPORTED_TYPES


@pytest.mark.parametrize(
    "type",
    [
        "javascript",
        "python",
        "webhook",
        "g-eval",
        "factuality",
        "not-python",
        "promptfoo:redteam:pii",
        "select-best",
    ],
)
def test_promptfoo_types_this_runner_lacks_are_unsupported(type: str) -> None:
    with pytest.raises(UnsupportedAssertion) as caught:
        validate_assertion(a(type, "x"))
    assert caught.value.type == type


@pytest.mark.parametrize("type", ["contain", "not-not-contains", "CONTAINS", ""])
def test_unknown_types_are_invalid(type: str) -> None:
    with pytest.raises(InvalidAssertion, match="unknown assertion type"):
        validate_assertion(a(type, "x"))


@pytest.mark.parametrize(
    "assertion",
    [
        a("equals"),
        a("contains", ""),
        a("contains", True),
        a("icontains", None),
        a("regex", ""),
        a("starts-with", ""),
        a("starts-with", 1),
        a("contains-any", ""),
        a("contains-any", " , "),
        a("contains-all", []),
        a("contains-all", [{"a": 1}]),
        a("icontains-any", '"unterminated'),
        a("levenshtein", 3),
        a("llm-rubric", ""),
        a("similar", []),
        a("similar", ["ok", ""]),
    ],
    ids=lambda x: f"{x.type}={x.value!r}",
)
def test_missing_or_malformed_values_are_invalid(assertion: Assertion) -> None:
    with pytest.raises(InvalidAssertion):
        validate_assertion(assertion)


def test_a_regex_javascript_rejects_is_invalid_with_the_javascript_message() -> None:
    with pytest.raises(InvalidAssertion, match=r"Nothing to repeat"):
        validate_assertion(a("regex", "a**"))


def test_a_javascript_only_regex_is_invalid_with_the_reason() -> None:
    with pytest.raises(InvalidAssertion, match="duplicate capture group names"):
        validate_assertion(a("regex", "(?<a>x)|(?<a>y)"))


@pytest.mark.parametrize(
    "assertion",
    [
        a("similar", "x", threshold=1.5),
        a("similar:cosine", "x", threshold=-0.1),
        a("similar:euclidean", "x", threshold=-1),
        a("llm-rubric", "x", threshold=1.01),
        a("latency", threshold=-1),
        a("levenshtein", "x", threshold=-1),
        # The model refuses a non-finite number; the check holds for any AssertionLike too.
        Assertion.model_construct(
            type="contains", value="x", threshold=float("inf"), weight=1, metric=None
        ),
    ],
    ids=lambda x: f"{x.type}@{x.threshold}",
)
def test_thresholds_out_of_range_are_invalid(assertion: Assertion) -> None:
    with pytest.raises(InvalidAssertion, match="threshold"):
        validate_assertion(assertion)


@pytest.mark.parametrize("weight", [-1, float("nan"), float("inf")])
def test_negative_or_non_finite_weights_are_invalid(weight: float) -> None:
    assertion = Assertion.model_construct(
        type="contains", value="x", threshold=None, weight=weight, metric=None
    )
    with pytest.raises(InvalidAssertion, match="weight"):
        validate_assertion(assertion)


@pytest.mark.parametrize(
    "fields",
    [
        {"weight": float("nan")},
        {"threshold": float("inf")},
        {"threshold": False},
        {"weight": True},
        {"value": {"k": [float("nan")]}},
        {"value": "a\x00b"},
        {"metric": "a\x00b"},
    ],
)
def test_the_model_refuses_what_no_store_can_hold(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Assertion.model_validate({"type": "contains", "value": "x", **fields})


@pytest.mark.parametrize(
    "schema",
    [
        [1],
        5,
        "type: object\nitems: [",
        '"just a string"',
        {"type": "strng"},
        {"foo": 1},
        {"format": "uri"},
        {"format": "e-mail"},
        {"$schema": "https://json-schema.org/draft/2020-12/schema"},
    ],
)
def test_json_schemas_that_are_not_usable_objects_are_invalid(schema: Any) -> None:
    for type in ("is-json", "contains-json"):
        with pytest.raises(InvalidAssertion):
            validate_assertion(a(type, schema))


@pytest.mark.parametrize("assertion", [a("latency"), a("not-latency", metric="m")])
def test_latency_needs_a_threshold_unless_it_only_records_a_metric(assertion: Assertion) -> None:
    with pytest.raises(InvalidAssertion, match="threshold"):
        validate_assertion(assertion)


@pytest.mark.parametrize(
    "assertion",
    [
        a("contains", "{% for x in y %}y{% endfor %}"),
        a("contains", "{{ x | nosuchfilter }}"),
        a("contains", "x", metric="{{ lang | nosuchfilter }}"),
        a("contains-all", ["{# unclosed comment"]),
        a("contains", "{{ a in b }}"),
        a("contains", "file://expected.txt"),
        a("is-json", "file://schema.json"),
    ],
)
def test_unsupported_templating_and_file_references_are_invalid(assertion: Assertion) -> None:
    with pytest.raises(InvalidAssertion):
        validate_assertion(assertion)


def test_assertion_refuses_promptfoo_fields_it_would_otherwise_ignore() -> None:
    with pytest.raises(ValidationError):
        Assertion.model_validate({"type": "contains", "value": "x", "transform": "output.trim()"})


def test_assertion_is_frozen() -> None:
    assertion = a("contains", "x")
    with pytest.raises(ValidationError):
        assertion.weight = 2  # type: ignore[misc]
