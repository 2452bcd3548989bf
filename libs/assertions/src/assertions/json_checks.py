"""is-json and contains-json as promptfoo decides them, with the JSON-object extraction it uses and
the schema handling around the validator in `json_schema`.

Extraction is promptfoo 0.123's brace-counting, YAML-reading `extractJsonObjects`
(`json_extract`); an output it cannot read with certainty is an error.
"""

from __future__ import annotations

from typing import Any

from assertions.check import Check, CheckError, Outcome, not_
from assertions.json_extract import ExtractUnsupported, extract_json_objects
from assertions.json_schema import Schema, SchemaInvalid, SchemaUnsupported
from assertions.jsvalues import parse_json
from assertions.jsyaml import YamlError, YamlTooLarge, YamlUnsupported, load_yaml


def has_schema(value: Any) -> bool:
    return value is not None and value != ""


def load_schema(value: Any, type_: str) -> Schema:
    """The validator for a schema value; SchemaInvalid is what Ajv's `compile` throws."""
    schema = value
    if isinstance(value, str):
        if value.startswith(("file://", "package:")):
            raise SchemaUnsupported("file:// and package: schema references are not supported")
        try:
            schema = parse_json(value)
        except ValueError:
            # promptfoo parses the string with js-yaml's `load`, which throws on bad YAML.
            try:
                schema = load_yaml(value)
            except YamlError as exc:
                raise SchemaInvalid(f"the schema is not valid YAML: {exc}") from exc
            except (YamlUnsupported, YamlTooLarge) as exc:
                raise SchemaUnsupported(f"the schema's YAML cannot be read here ({exc})") from exc
    if not isinstance(schema, bool | dict):
        raise SchemaInvalid(f"{type_} assertion must have a string, boolean, or object value")
    return Schema(schema)


def _validator(check: Check) -> Schema:
    try:
        return load_schema(check.value, check.base_type)
    except SchemaInvalid as exc:
        # promptfoo 0.123's Ajv `compile` throws out of the handler: the case is an error.
        raise CheckError(str(exc)) from exc
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
        return _json_outcome(inverse, f"Expected output to {not_(inverse)}be valid JSON")
    pass_ = not inverse
    if has_schema(check.value):
        schema = _validator(check)
        error = _first_error(schema, parsed)
        pass_ = (error is None) != inverse
        if not pass_:
            reason = (
                "Output is JSON that conforms to the provided schema"
                if inverse
                else f"JSON does not conform to the provided schema. Errors: {error}"
            )
            return Outcome(False, 0.0, reason)
    return _json_outcome(pass_, f"Expected output to {not_(inverse)}be valid JSON")


def _json_outcome(pass_: bool, failure: str) -> Outcome:
    return Outcome(pass_, 1.0 if pass_ else 0.0, "Assertion passed" if pass_ else failure)


def handle_contains_json(check: Check) -> Outcome:
    inverse = check.inverse
    message = f"Expected output to {not_(inverse)}contain valid JSON"
    try:
        objects = extract_json_objects(check.output)
    except ExtractUnsupported as exc:
        raise CheckError(f"contains-json cannot read this output like promptfoo: {exc}") from exc
    pass_ = (not objects) if inverse else bool(objects)
    if objects and has_schema(check.value):
        schema = _validator(check)
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
