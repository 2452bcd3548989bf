"""is-json and contains-json: promptfoo's parsing, extraction and schema rules, and the validator
standing in for Ajv."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from assertions import Assertion, AssertionVerdict, evaluate
from assertions.json_extract import (
    ExtractUnsupported,
    convert_slash_comments_to_hash,
    extract_json_objects,
)
from assertions.json_schema import Schema, SchemaInvalid, SchemaUnsupported
from assertions.jsregex import REGEX_TIMEOUT_SECONDS

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
    assert (verdict.pass_, verdict.reason) == (False, "Expected output to not be valid JSON")


async def test_not_contains_json_fails_on_json_and_says_so() -> None:
    verdict = await check('see {"a": 1}', "not-contains-json")
    assert (verdict.pass_, verdict.reason) == (False, "Expected output to not contain valid JSON")


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


async def test_a_schema_ajv_cannot_compile_is_an_error_as_in_promptfoo() -> None:
    verdict = await check("{}", "is-json", {"type": "strng"})
    assert (verdict.pass_, verdict.score) == (False, 0.0)
    assert verdict.error == "schema is invalid: #/type must be equal to one of the allowed values"
    strict = await check("{}", "is-json", {"type": "object", "foo": 1})
    assert strict.error == 'strict mode: unknown keyword: "foo"'
    draft = await check(
        "{}", "is-json", {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    )
    assert draft.error == 'no schema with key or ref "https://json-schema.org/draft/2020-12/schema"'
    unknown = await check('"x"', "is-json", {"properties": {"a": {"format": "e-mail"}}})
    assert unknown.error == ('unknown format "e-mail" ignored in schema at path "#/properties/a"')


async def test_a_schema_outside_this_validator_is_an_error() -> None:
    verdict = await check(
        '{"url": "http://a.b"}', "is-json", {"properties": {"url": {"format": "uri"}}}
    )
    assert (
        verdict.error
        == 'JSON schema cannot be checked here: JSON Schema format "uri" is not supported here'
    )
    yaml = await check("{}", "is-json", "type: object\nconst: 2024-01-01")
    assert yaml.error == (
        "JSON schema cannot be checked here: the schema's YAML cannot be read here "
        "(timestamp '2024-01-01' (js-yaml reads a Date))"
    )


async def test_a_schema_given_as_yaml_is_read_like_js_yaml() -> None:
    schema = "type: object\nproperties:\n  score: {type: integer, maximum: 5}\nrequired: [score]\n"
    assert (await check('{"score": 3}', "is-json", schema)).pass_ is True
    failed = await check('{"score": 7}', "is-json", schema)
    assert failed.reason == (
        "JSON does not conform to the provided schema. Errors: data/score must be <= 5"
    )
    assert (await check('answer: {"score": 3}', "contains-json", schema)).pass_ is True
    missing = await check('{"name": "Ada"}', "is-json", "type: object\nrequired:\n- score\n")
    assert missing.reason == (
        "JSON does not conform to the provided schema. Errors: data must have required property 'score'"
    )


async def test_a_non_object_schema_value_is_an_error() -> None:
    verdict = await check("{}", "is-json", 5)
    assert (verdict.pass_, verdict.score) == (False, 0.0)
    assert verdict.error == "is-json assertion must have a string, boolean, or object value"


@pytest.mark.parametrize(
    ("format", "valid", "invalid"),
    [
        ("email", ["ada@example.com", "a.b+c@x-y.example.org"], ["not-an-email", "a@b", "a@-b.c"]),
        ("date", ["2024-02-29", "2024-05-17"], ["2023-02-29", "2024-13-45", "2024-5-17"]),
        (
            "date-time",
            ["2024-05-17T10:00:00Z", "2024-05-17 10:00:00.5+02:00", "2016-12-31t23:59:60z"],
            ["2024-05-17T10:00:00", "2024-05-17", "2024-05-17T24:00:00Z"],
        ),
        ("time", ["10:00:00Z", "10:00:00+0100"], ["10:00:00", "10:00Z"]),
        ("iso-time", ["10:00:00"], ["10:60:00"]),
        ("hostname", ["example.com", "a-b.c."], ["-a.com", "a..b"]),
        ("ipv4", ["192.168.0.1"], ["256.0.0.1", "1.2.3"]),
        ("uuid", ["123E4567-e89b-12d3-a456-426614174000"], ["123e4567-e89b-12d3-a456"]),
        ("duration", ["P1Y2M", "PT1H", "P2W"], ["P", "PT", "P1H"]),
    ],
)
async def test_formats_follow_ajv_formats(
    format: str, valid: list[str], invalid: list[str]
) -> None:
    schema = Schema({"type": "string", "format": format})
    for text in valid:
        assert schema.first_error(text) is None, text
    for text in invalid:
        assert schema.first_error(text) == f'data must match format "{format}"', text
    assert schema.first_error(5) == "data must be string"
    assert Schema({"format": format}).first_error(5) is None


async def test_the_schema_is_not_looked_at_when_the_output_is_not_json() -> None:
    verdict = await check("nope", "is-json", {"type": "strng"})
    assert verdict.reason == "Expected output to be valid JSON"


# -- contains-json -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('Here: {"a": 1} done', [{"a": 1}]),
        ('```json\n{"a": {"b": [1]}}\n```', [{"a": {"b": [1]}}]),
        ('{"a": 1}{"b": 2}', [{"a": 1}, {"b": 2}]),
        ("[1, 2]", []),
        ('[{"a": 1}, {"b": 2}]', [{"a": 1}, {"b": 2}]),
        # YAML flow mappings: prose braces are objects too.
        ('{bad} {"ok": true}', [{"bad": None}, {"ok": True}]),
        (
            '{"outer": {broken}, "x": {"inner": 1}}',
            [{"outer": {"broken": None}, "x": {"inner": 1}}],
        ),
        ("{'a': 1, b: [x, 'y'], c: NaN, 2: ~}", [{"a": 1, "b": ["x", "y"], "c": "NaN", "2": None}]),
        (r"\frac{1}{2}", [{"1": None}, {"2": None}]),
        # Braces are counted without looking at strings.
        ('{"t": "}{"}', []),
        ('{"a": "{"}', []),
        # The missing braces are appended at the end of the text.
        ('{"a": 1, "b": {"c": 2', [{"a": 1, "b": {"c": 2}}]),
        ('{"a": 1 // note\n}', [{"a": 1}]),
        ('{"url": "http://x.y/z"} {u: http://x.y}', [{"url": "http://x.y/z"}, {"u": "http://x.y"}]),
        ("} then {}", [{}]),
        ("no json", []),
    ],
)
def test_extraction_counts_braces_and_reads_candidates_as_yaml(
    output: str, expected: list[Any]
) -> None:
    assert extract_json_objects(output) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1 // c\n}', '{"a": 1 # c\n}'),
        ("{a: 1} //// two", "{a: 1} ## two"),
        ('{"u": "a//b"} // c', '{"u": "a//b"} # c'),
        ("see http://x.y//z", "see http://x.y//z"),
        ("it's // c", "it's # c"),  # a quote after a letter is an apostrophe
        ("'a // b' // c", "'a // b' # c"),
        ("'a' // c", "'a' # c"),
    ],
)
def test_slash_comments_become_hash_comments_as_promptfoo_converts_them(
    text: str, expected: str
) -> None:
    assert convert_slash_comments_to_hash(text) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("{a: &x 1, b: *x}", [{"a": 1, "b": 1}]),
        ("{a: *x}", []),  # js-yaml throws on an unknown alias
        ("{a: 0x1F, b: 0777, c: 0o17}", [{"a": 31, "b": 777, "c": 15}]),
        ("{Hello\nworld}", [{"Hello world": None}]),
        ('{"a": "\\q"', []),  # an unknown escape: js-yaml throws
        ("{a: [b: c]}", [{"a": [{"b": "c"}]}]),
        ("{? a}", [{"a": None}]),
        ("{a: 1, a: 2}", [{"a": 2}]),  # promptfoo loads with `json: true`: the last key wins
        ("{on: yes}", [{"on": "yes"}]),
    ],
)
def test_candidates_are_read_as_js_yaml_reads_them(output: str, expected: list[Any]) -> None:
    assert extract_json_objects(output) == expected


@pytest.mark.parametrize("output", ["{a: !t 1}", "{a: 2024-01-01}"])
def test_candidates_this_reader_refuses_are_unsupported(output: str) -> None:
    with pytest.raises(ExtractUnsupported):
        extract_json_objects(output)


async def test_contains_json_that_cannot_be_read_like_promptfoo_is_an_error() -> None:
    verdict = await check("{a: 2024-01-01}", "contains-json")
    assert verdict.error == (
        "contains-json cannot read this output like promptfoo: "
        "timestamp '2024-01-01' (js-yaml reads a Date)"
    )


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
            # Ajv keeps the errors of every branch before its own.
            "data must be string, data must be null, data must match a schema in anyOf",
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
        {"format": "e-mail"},
        {"format": 5},
        {"$schema": "https://json-schema.org/draft/2020-12/schema"},
        {"$schema": 7},
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
        {"format": "uri"},
        {"unevaluatedProperties": False},
        {"$ref": "other.json#/a"},
        {"pattern": r"\p{L}"},
        {"properties": {"a": {"$id": "x"}}},
    ],
)
def test_schemas_outside_the_validator_are_unsupported(schema: Any) -> None:
    with pytest.raises(SchemaUnsupported):
        Schema(schema)


async def test_a_catastrophic_pattern_in_a_schema_is_an_error_naming_the_time_limit() -> None:
    evaluating = asyncio.create_task(
        check(json.dumps("a" * 5000), "is-json", {"pattern": "(a+)+b"})
    )
    turns = 0  # the event loop's turns for other work while the schema is checked
    while not evaluating.done():
        await asyncio.sleep(0.01)
        turns += 1
    assert evaluating.result().error == (
        "a pattern could not be evaluated: regex took longer than "
        f"{REGEX_TIMEOUT_SECONDS} s (the limit)"
    )
    assert turns > 2
