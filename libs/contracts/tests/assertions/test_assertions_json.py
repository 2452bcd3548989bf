"""is-json and contains-json: promptfoo's parsing, extraction and schema rules, and the validator
standing in for Ajv."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.assertions import Assertion, AssertionVerdict, evaluate
from contracts.assertions.json_checks import extract_json_objects
from contracts.assertions.json_schema import Schema, SchemaInvalid, SchemaUnsupported

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}


async def check(output: str, type: str, value: Any = None) -> AssertionVerdict:
    verdict = await evaluate(
        output,
        [Assertion(type=type, value=value)],
        latency_ms=None,
        threshold=None,
        vars={},
        grader=None,
    )
    return verdict.assertions[0]


# -- is-json -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('{"a": 1}', True),
        (' {"a": 1}\n', True),
        ("42", True),
        ('"x"', True),
        ("[1, 2]", True),
        ('```json\n{"a": 1}\n```', False),
        ("{'a': 1}", False),
        ('{"a": NaN}', False),
        ('{"a": 1} trailing', False),
        ("", False),
    ],
)
async def test_is_json_parses_the_whole_output_like_json_parse(output: str, expected: bool) -> None:
    verdict = await check(output, "is-json")
    assert verdict.pass_ is expected
    assert verdict.reason == (
        "Assertion passed" if expected else "Expected output to be valid JSON"
    )


async def test_not_is_json_passes_on_text_and_fails_on_json() -> None:
    assert (await check("plain text", "not-is-json")).pass_ is True
    verdict = await check("{}", "not-is-json")
    assert (verdict.pass_, verdict.reason) == (False, "Expected output to be valid JSON")


async def test_is_json_with_a_schema_reports_the_first_ajv_error() -> None:
    assert (await check('{"name": "Ada", "age": 36}', "is-json", PERSON)).pass_ is True
    verdict = await check('{"name": "Ada", "age": 36.5}', "is-json", PERSON)
    assert verdict.pass_ is False
    assert (
        verdict.reason
        == "JSON does not conform to the provided schema. Errors: data/age must be integer"
    )


async def test_is_json_accepts_a_schema_written_as_a_json_string() -> None:
    schema = '{"type": "array", "maxItems": 1}'
    assert (await check("[1]", "is-json", schema)).pass_ is True
    assert (await check("[1, 2]", "is-json", schema)).reason == (
        "JSON does not conform to the provided schema. Errors: data must NOT have more than 1 items"
    )


async def test_not_is_json_with_a_schema_passes_only_on_non_conforming_json() -> None:
    assert (await check('{"age": 1}', "not-is-json", PERSON)).pass_ is True
    verdict = await check('{"name": "Ada"}', "not-is-json", PERSON)
    assert (verdict.pass_, verdict.reason) == (
        False,
        "Output is JSON that conforms to the provided schema",
    )


async def test_an_invalid_schema_at_run_time_is_a_failure_as_in_promptfoo() -> None:
    verdict = await check("{}", "is-json", {"type": "strng"})
    assert (verdict.pass_, verdict.error) == (False, None)
    assert (
        verdict.reason
        == "Invalid JSON schema: schema is invalid: #/type must be equal to one of the allowed values"
    )
    strict = await check("{}", "is-json", {"type": "object", "foo": 1})
    assert strict.reason == 'Invalid JSON schema: strict mode: unknown keyword: "foo"'


async def test_a_schema_outside_this_validator_is_an_error() -> None:
    verdict = await check(
        '{"email": "a@b.c"}', "is-json", {"properties": {"email": {"format": "email"}}}
    )
    assert (
        verdict.error
        == 'JSON schema cannot be checked here: JSON Schema keyword "format" is not supported here'
    )
    yaml = await check("{}", "is-json", "type: object")
    assert yaml.error == (
        "JSON schema cannot be checked here: a schema given as a string must be JSON (YAML is not supported)"
    )


async def test_a_non_object_schema_value_is_a_failure() -> None:
    verdict = await check("{}", "is-json", 5)
    assert (
        verdict.reason
        == "Invalid JSON schema: is-json assertion must have a string, boolean, or object value"
    )


async def test_the_schema_is_not_looked_at_when_the_output_is_not_json() -> None:
    verdict = await check("nope", "is-json", {"type": "strng"})
    assert verdict.reason == "Expected output to be valid JSON"


# -- contains-json -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('Here: {"a": 1} done', [{"a": 1.0}]),
        ('```json\n{"a": {"b": [1]}}\n```', [{"a": {"b": [1.0]}}]),
        ('{"a": 1}{"b": 2}', [{"a": 1.0}, {"b": 2.0}]),
        ("[1, 2]", []),
        ('[{"a": 1}, {"b": 2}]', [{"a": 1.0}, {"b": 2.0}]),
        ('{bad} {"ok": true}', [{"ok": True}]),
        ('{"outer": {broken}, "x": {"inner": 1}}', [{"inner": 1.0}]),
        ('{"t": "}{"}', [{"t": "}{"}]),
        ('{"a": 1', []),
        ("{'a': 1}", []),
        ("no json", []),
    ],
)
def test_extraction_takes_the_shortest_parsable_object_from_each_brace(
    output: str, expected: list[Any]
) -> None:
    assert extract_json_objects(output) == expected


async def test_contains_json_passes_when_any_object_is_found() -> None:
    assert (await check('Result: {"a": 1}.', "contains-json")).pass_ is True
    verdict = await check("[1, 2, 3]", "contains-json")
    assert (verdict.pass_, verdict.reason) == (False, "Expected output to contain valid JSON")


async def test_contains_json_with_a_schema_passes_when_any_candidate_conforms() -> None:
    assert (await check('{"x": 1} then {"name": "Ada"}', "contains-json", PERSON)).pass_ is True
    verdict = await check('{"x": 1} then {"name": 7}', "contains-json", PERSON)
    assert (
        verdict.reason
        == "JSON does not conform to the provided schema. Errors: data/name must be string"
    )


async def test_not_contains_json_follows_promptfoo_including_the_schema_case() -> None:
    assert (await check("none here", "not-contains-json")).pass_ is True
    assert (await check('{"a": 1}', "not-contains-json")).pass_ is False
    # With a schema, not-contains-json passes when no candidate conforms.
    assert (await check('{"x": 1}', "not-contains-json", PERSON)).pass_ is True
    verdict = await check('{"name": "Ada"}', "not-contains-json", PERSON)
    assert (verdict.pass_, verdict.reason) == (
        False,
        "Output contains JSON conforming to the provided schema",
    )


# -- the schema validator ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "data", "error"),
    [
        ({"type": ["string", "null"]}, None, None),
        ({"type": ["string", "null"]}, 1.0, "data must be string,null"),
        ({"type": "integer"}, 2.0, None),
        ({"type": "number"}, True, "data must be number"),
        ({"enum": ["a", 1]}, 1.0, None),
        ({"enum": ["a", 1]}, "b", "data must be equal to one of the allowed values"),
        ({"const": {"a": [1]}}, {"a": [1.0]}, None),
        ({"const": 0}, -0.0, None),
        ({"minimum": 1, "exclusiveMaximum": 3}, 3.0, "data must be < 3"),
        ({"maximum": 2.5}, 3.0, "data must be <= 2.5"),
        ({"minLength": 2}, "😀", "data must NOT have fewer than 2 characters"),
        ({"maxLength": 1}, "😀", None),
        ({"pattern": r"^\d+$"}, "\u0663", 'data must match pattern "^\\d+$"'),
        ({"pattern": "b"}, "abc", None),
        ({"items": {"type": "string"}, "minItems": 1}, [], "data must NOT have fewer than 1 items"),
        ({"items": {"type": "string"}}, ["a", 1.0], "data/1 must be string"),
        (
            {"items": [{"type": "string"}], "additionalItems": False},
            ["a", "b"],
            "data must NOT have more than 1 items",
        ),
        (
            {"uniqueItems": True},
            [1.0, 2.0, 1.0],
            "data must NOT have duplicate items (items ## 0 and 2 are identical)",
        ),
        (
            {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
            {"a": "x", "b": 1},
            "data must NOT have additional properties",
        ),
        (
            {"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False},
            {"x-a": "1"},
            None,
        ),
        ({"required": ["a", "b"]}, {"a": 1}, "data must have required property 'b'"),
        ({"maxProperties": 1}, {"a": 1, "b": 2}, "data must NOT have more than 1 properties"),
        ({"properties": {"a/b": {"type": "string"}}}, {"a/b": 1}, "data/a~1b must be string"),
        (
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
            1.0,
            "data must match a schema in anyOf",
        ),
        (
            {"oneOf": [{"type": "number"}, {"type": "integer"}]},
            1.0,
            "data must match exactly one schema in oneOf",
        ),
        ({"allOf": [{"type": "number"}, {"minimum": 5}]}, 4.0, "data must be >= 5"),
        ({"not": {"type": "string"}}, "x", "data must NOT be valid"),
        (
            {
                "definitions": {"n": {"type": "number"}},
                "properties": {"a": {"$ref": "#/definitions/n"}},
            },
            {"a": "x"},
            "data/a must be number",
        ),
        ({"$defs": {"n": {"type": "number"}}, "items": {"$ref": "#/$defs/n"}}, [1.0], None),
        (True, "anything", None),
        (False, "anything", "data boolean schema is false"),
        (
            {
                "title": "t",
                "description": "d",
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
            1.0,
            None,
        ),
    ],
)
def test_schema_validation_matches_ajv(schema: Any, data: Any, error: str | None) -> None:
    assert Schema(schema).first_error(data) == error


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "strng"},
        {"required": "name"},
        {"minLength": -1},
        {"anyOf": []},
        {"properties": {"a": 5}},
        {"pattern": "("},
        {"$ref": "#/definitions/missing"},
        {"x-extension": True},
    ],
)
def test_schemas_ajv_would_not_compile_are_invalid(schema: Any) -> None:
    with pytest.raises(SchemaInvalid):
        Schema(schema)


@pytest.mark.parametrize(
    "schema",
    [
        {"format": "email"},
        {"multipleOf": 2},
        {"if": {}, "then": {}},
        {"$ref": "other.json#/a"},
        {"pattern": r"\p{L}"},
        {"properties": {"a": {"$id": "x"}}},
    ],
)
def test_schemas_outside_the_validator_are_unsupported(schema: Any) -> None:
    with pytest.raises(SchemaUnsupported):
        Schema(schema)
