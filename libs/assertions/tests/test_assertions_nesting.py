"""Patterns and schemas nested past the limits are refused naming the limit, before a case is
stored and again when a run grades it; nothing nested deeply can exhaust the stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assertions import Assertion, InvalidAssertion, evaluate, validate_assertion
from assertions.jsregex import REGEX_NESTING_MAX
from contracts.storable import JSON_DEPTH_MAX


def nested_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"not": schema}
    return schema


def groups(levels: int, opening: str = "(") -> str:
    return opening * levels + "a" + ")" * levels


@pytest.mark.parametrize(
    ("assertion", "limit"),
    [
        (Assertion(type="regex", value=groups(500)), REGEX_NESTING_MAX),
        (Assertion(type="regex", value=groups(2000, "(?:")), REGEX_NESTING_MAX),
        (
            Assertion(type="not-regex", value=groups(REGEX_NESTING_MAX + 1, "(?=")),
            REGEX_NESTING_MAX,
        ),
        (Assertion(type="is-json", value={"pattern": groups(500)}), REGEX_NESTING_MAX),
        (Assertion(type="is-json", value=json.dumps(nested_schema(500))), JSON_DEPTH_MAX),
        (Assertion.model_construct(type="contains-json", value=nested_schema(500)), JSON_DEPTH_MAX),
    ],
)
def test_nesting_past_the_limit_is_refused_naming_it(assertion: Assertion, limit: int) -> None:
    with pytest.raises(InvalidAssertion) as caught:
        validate_assertion(assertion)

    assert str(caught.value).endswith(f"the limit is {limit}")


def test_nesting_at_the_limit_is_checked() -> None:
    pattern = Assertion(type="regex", value=groups(REGEX_NESTING_MAX))
    schema = Assertion(type="is-json", value=nested_schema(JSON_DEPTH_MAX - 1))

    validate_assertion(pattern)
    validate_assertion(schema)


async def test_a_run_grades_nesting_past_the_limit_as_an_error_naming_it() -> None:
    too_deep = [
        Assertion.model_construct(type="is-json", value=nested_schema(500), weight=1, metric=None),
        Assertion.model_construct(type="regex", value=groups(500), weight=1, metric=None),
    ]

    verdict = await evaluate('"a"', too_deep, latency_ms=None, threshold=None, vars={}, grader=None)

    assert [
        v.error is not None and v.error.endswith(f"the limit is {limit}")
        for v, limit in zip(verdict.assertions, (JSON_DEPTH_MAX, REGEX_NESTING_MAX), strict=True)
    ] == [True, True]


async def test_an_output_nested_deeply_is_graded_not_raised() -> None:
    output = "[" * 5000 + "]" * 5000
    verdict = await evaluate(
        output,
        [Assertion(type="is-json", value={"type": "array"})],
        latency_ms=None,
        threshold=None,
        vars={},
        grader=None,
    )

    assert verdict.pass_ is False
