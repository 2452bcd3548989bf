"""is-json and contains-json as promptfoo decides them, with the JSON-object extraction it uses and
the schema handling around the validator in `json_schema`.

Extraction follows promptfoo's scanning `extractJsonObjects` (src/util/json.ts, commit 76525ca):
from each `{`, the shortest text that `JSON.parse` accepts (at most 100000 characters) is taken
and the scan resumes after it; a top-level array is not a candidate, its objects are. Newer
promptfoo versions also accept malformed candidates through a YAML fallback; this does not.
"""

from __future__ import annotations

from typing import Any

from contracts.assertions.check import Check, CheckError, Outcome
from contracts.assertions.json_schema import Schema, SchemaInvalid, SchemaUnsupported
from contracts.assertions.jsvalues import decode_prefix, parse_json

MAX_CANDIDATE = 100_000


def extract_json_objects(text: str) -> list[Any]:
    found: list[Any] = []
    i = text.find("{")
    while i != -1:
        try:
            value, end = decode_prefix(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if end - i > MAX_CANDIDATE:
            i = text.find("{", i + 1)
            continue
        found.append(value)
        i = text.find("{", end)
    return found


def has_schema(value: Any) -> bool:
    return value is not None and value != ""


def load_schema(value: Any, type_: str) -> Schema:
    """The validator for a schema value; SchemaInvalid is promptfoo's "Invalid JSON schema"."""
    schema = value
    if isinstance(value, str):
        if value.startswith(("file://", "package:")):
            raise SchemaUnsupported("file:// and package: schema references are not supported")
        try:
            schema = parse_json(value)
        except ValueError as exc:
            # promptfoo parses the string as YAML; only its JSON subset is understood here.
            raise SchemaUnsupported(
                "a schema given as a string must be JSON (YAML is not supported)"
            ) from exc
    if not isinstance(schema, bool | dict):
        raise SchemaInvalid(f"{type_} assertion must have a string, boolean, or object value")
    return Schema(schema)


def _validator(check: Check) -> Schema | Outcome:
    try:
        return load_schema(check.value, check.base_type)
    except SchemaInvalid as exc:
        return Outcome(False, 0.0, f"Invalid JSON schema: {exc}")
    except SchemaUnsupported as exc:
        raise CheckError(f"JSON schema cannot be checked here: {exc}") from exc


def _first_error(schema: Schema, data: Any) -> str | None:
    try:
        return schema.first_error(data)
    except SchemaUnsupported as exc:
        raise CheckError(str(exc)) from exc


def handle_is_json(check: Check) -> Outcome:
    inverse = check.inverse
    try:
        parsed = parse_json(check.output)
    except ValueError:
        return _json_outcome(inverse, "Expected output to be valid JSON")
    pass_ = not inverse
    if has_schema(check.value):
        schema = _validator(check)
        if isinstance(schema, Outcome):
            return schema
        error = _first_error(schema, parsed)
        pass_ = (error is None) != inverse
        if not pass_:
            reason = (
                "Output is JSON that conforms to the provided schema"
                if inverse
                else f"JSON does not conform to the provided schema. Errors: {error}"
            )
            return Outcome(False, 0.0, reason)
    return _json_outcome(pass_, "Expected output to be valid JSON")


def _json_outcome(pass_: bool, failure: str) -> Outcome:
    return Outcome(pass_, 1.0 if pass_ else 0.0, "Assertion passed" if pass_ else failure)


def handle_contains_json(check: Check) -> Outcome:
    inverse = check.inverse
    message = "Expected output to contain valid JSON"
    objects = extract_json_objects(check.output)
    pass_ = (not objects) if inverse else bool(objects)
    if objects and has_schema(check.value):
        schema = _validator(check)
        if isinstance(schema, Outcome):
            return schema
        for candidate in objects:
            error = _first_error(schema, candidate)
            valid = error is None
            pass_ = not valid if inverse else valid
            if valid:
                if inverse:
                    message = "Output contains JSON conforming to the provided schema"
                break
            message = f"JSON does not conform to the provided schema. Errors: {error}"
    return _json_outcome(pass_, message)
