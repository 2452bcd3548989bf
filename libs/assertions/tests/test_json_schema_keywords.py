"""The draft-07 keywords checked through jsonschema beyond the golden corpus: multipleOf,
if/then/else, contains, propertyNames, dependencies, with Ajv's verdicts, error texts and
strict-mode compile errors."""

from __future__ import annotations

from typing import Any

import pytest

from assertions import Assertion, evaluate
from assertions.json_schema import Schema, SchemaInvalid

IF_THEN_ELSE = {
    "if": {"properties": {"kind": {"const": "card"}}, "required": ["kind"]},
    "then": {"required": ["last4"]},
    "else": {"properties": {"iban": {"type": "string"}}},
}


@pytest.mark.parametrize(
    ("schema", "data", "error"),
    [
        ({"multipleOf": 5}, 10, None),
        ({"multipleOf": 5}, 12, "data must be multiple of 5"),
        ({"multipleOf": 0.5}, 2.5, None),
        ({"multipleOf": 0.1}, 0.3, "data must be multiple of 0.1"),  # JS: 0.3 % 0.1 !== 0
        ({"multipleOf": 2}, "x", None),
        (IF_THEN_ELSE, {"kind": "card", "last4": "4242"}, None),
        (
            IF_THEN_ELSE,
            {"kind": "card"},
            "data must have required property 'last4', data must match \"then\" schema",
        ),
        (IF_THEN_ELSE, {"kind": "bank", "iban": "DE00"}, None),
        (
            IF_THEN_ELSE,
            {"kind": "bank", "iban": 7},
            'data/iban must be string, data must match "else" schema',
        ),
        ({"contains": {"type": "integer"}}, ["a", 2], None),
        (
            {"contains": {"type": "integer"}},
            ["a", "b"],
            "data must contain at least 1 valid item(s)",
        ),
        ({"contains": {"type": "integer"}}, [], "data must contain at least 1 valid item(s)"),
        ({"contains": {"type": "integer"}}, "not an array", None),
        ({"propertyNames": {"maxLength": 3}}, {"abc": 1}, None),
        (
            {"propertyNames": {"pattern": "^[a-z]+$"}},
            {"ok": 1, "Bad": 2},
            'data must match pattern "^[a-z]+$", data property name must be valid',
        ),
        ({"dependencies": {"card": ["cvc"]}}, {"card": 1, "cvc": 2}, None),
        (
            {"dependencies": {"card": ["cvc", "exp"]}},
            {"card": 1, "cvc": 2},
            "data must have properties cvc, exp when property card is present",
        ),
        (
            {"dependencies": {"card": {"required": ["cvc"]}}},
            {"card": 1},
            "data must have required property 'cvc'",
        ),
        (
            {"oneOf": [{"type": "number"}, {"type": "integer"}, {"type": "string"}]},
            1,
            "data must be string, data must match exactly one schema in oneOf",
        ),
        ({"properties": {"a": False}}, {"a": 1}, "data/a boolean schema is false"),
        ({"items": [True, False]}, [1, 2], "data/1 boolean schema is false"),
    ],
)
def test_newly_supported_keywords_give_ajvs_verdicts(
    schema: Any, data: Any, error: str | None
) -> None:
    assert Schema(schema).first_error(data) == error


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"then": {}}, 'strict mode: "then" without "if" is ignored'),
        ({"else": {}}, 'strict mode: "else" without "if" is ignored'),
        ({"if": {}}, 'strict mode: "if" without "then" and "else" is ignored'),
        ({"multipleOf": 0}, "schema is invalid: #/multipleOf must be number > 0"),
        ({"contains": 5}, "schema is invalid: #/contains must be object,boolean"),
        ({"propertyNames": {"foo": 1}}, 'strict mode: unknown keyword: "foo"'),
        (
            {"dependencies": {"a": [1]}},
            "schema is invalid: #/dependencies/a must be array of strings",
        ),
    ],
)
def test_strict_mode_refuses_misused_keywords(schema: Any, message: str) -> None:
    with pytest.raises(SchemaInvalid) as caught:
        Schema(schema)
    assert str(caught.value) == message


async def test_an_is_json_schema_with_if_then_reads_like_promptfoo() -> None:
    verdict = await evaluate(
        '{"kind": "card"}',
        [Assertion(type="is-json", value=IF_THEN_ELSE)],
        latency_ms=None,
        threshold=None,
        vars={},
        grader=None,
    )
    assert (verdict.pass_, verdict.reason) == (
        False,
        "JSON does not conform to the provided schema. Errors: data must have required "
        "property 'last4', data must match \"then\" schema",
    )
