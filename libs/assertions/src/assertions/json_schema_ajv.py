"""The `jsonschema` validator set up to decide as Ajv does, and Ajv's error text for its verdict.

The validator is Draft 7's keywords with Ajv's readings where they differ: `$ref` applies beside
its siblings and resolves inside the schema; `pattern` and `patternProperties` are JavaScript `u`
regexes with the time limit (`jsregex`); `multipleOf` is JS's `%`; Infinity is an integer; formats
are ajv-formats' (`json_formats`).

A `false` subschema is given to jsonschema as a marked `{"not": {}}` (`mark_false`), so that its
errors keep their paths and read as Ajv's "boolean schema is false".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft7Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator

from assertions.json_formats import FORMATS
from assertions.jsregex import JsRegex

FALSE_MARK = "$agent-studio:false"
SINGLE_SUBSCHEMAS = ("not", "if", "then", "else", "contains", "propertyNames")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependencies")
Path = tuple[Any, ...]


def _is_integer(_checker: Any, value: Any) -> bool:
    # Ajv's `!(x % 1) && !isNaN(x)`: 1.0 and Infinity are integers.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and (math.isinf(value) or float(value).is_integer())


def build_validator(root: Any, patterns: dict[str, JsRegex]) -> Validator:
    """A validator for `root` (with false subschemas marked, see `mark_false`)."""

    def ref(validator: Any, ref: str, instance: Any, _schema: Any) -> Iterator[ValidationError]:
        yield from validator.descend(instance, resolve(root, ref), schema_path="$ref")

    def pattern(_v: Any, source: str, instance: Any, _schema: Any) -> Iterator[ValidationError]:
        if isinstance(instance, str) and not patterns[source].test(instance):
            yield ValidationError(f"does not match {source!r}")

    def pattern_properties(
        validator: Any, properties: dict[str, Any], instance: Any, _schema: Any
    ) -> Iterator[ValidationError]:
        if isinstance(instance, dict):
            for source, sub in properties.items():
                for key, value in instance.items():
                    if patterns[source].test(key):
                        yield from validator.descend(value, sub, path=key, schema_path=source)

    def additional_properties(
        validator: Any, extra: Any, instance: Any, schema: dict[str, Any]
    ) -> Iterator[ValidationError]:
        if not isinstance(instance, dict):
            return
        for key in _additional(instance, schema, patterns):
            if extra is False:
                yield ValidationError("additional property", instance=instance)
                return
            yield from validator.descend(instance[key], extra, path=key)

    def multiple_of(_v: Any, factor: Any, instance: Any, _s: Any) -> Iterator[ValidationError]:
        number = isinstance(instance, int | float) and not isinstance(instance, bool)
        if number and math.fmod(instance, factor) != 0:  # JavaScript's `data % factor !== 0`
            yield ValidationError(f"not a multiple of {factor}")

    keywords: dict[str, Callable[..., Any]] = {
        **Draft7Validator.VALIDATORS,
        "$ref": ref,
        "pattern": pattern,
        "patternProperties": pattern_properties,
        "additionalProperties": additional_properties,
        "multipleOf": multiple_of,
    }
    checker = FormatChecker(formats=())
    for name, test in FORMATS.items():
        checker.checks(name)(_strings_only(test))
    types = Draft7Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    cls = validators.create(
        meta_schema=Draft7Validator.META_SCHEMA, validators=keywords, type_checker=types
    )
    return cls(root, format_checker=checker)


def _strings_only(test: Callable[[str], bool]) -> Callable[[Any], bool]:
    return lambda value: not isinstance(value, str) or test(value)


def _additional(
    data: dict[str, Any], schema: dict[str, Any], patterns: dict[str, JsRegex]
) -> list[str]:
    named = schema.get("properties", {})
    sources = schema.get("patternProperties", {})
    return [
        key for key in data if key not in named and not any(patterns[s].test(key) for s in sources)
    ]


def resolve(root: Any, ref: str) -> Any:
    """A `#/…` JSON pointer inside `root`; LookupError when it leads nowhere."""
    node = root
    for raw in unquote(ref[1:]).split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(ref)
    return node


def pointer(path: Path) -> str:
    return "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in path)


def is_false(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get(FALSE_MARK) is True


def mark_false(schema: Any) -> Any:
    """`schema` with each `false` subschema (not `additional…: false`) as a marked `{not: {}}`."""
    if schema is False:
        return {"not": {}, FALSE_MARK: True}
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key, value in schema.items():
        if key in SINGLE_SUBSCHEMAS or (key == "items" and not isinstance(value, list)):
            out[key] = mark_false(value)
        elif key in ("allOf", "anyOf", "oneOf", "items") and isinstance(value, list):
            out[key] = [mark_false(sub) for sub in value]
        elif key in ("additionalItems", "additionalProperties") and isinstance(value, dict):
            out[key] = mark_false(value)
        elif key in SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {
                name: sub if isinstance(sub, list) else mark_false(sub)
                for name, sub in value.items()
            }
    return out
