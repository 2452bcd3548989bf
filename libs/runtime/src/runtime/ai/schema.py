"""JSON Schema both ways: a deterministic instance of a schema, and a checker.

`example_for` covers what structured-output schemas use: type (one or a list), properties,
required, items, enum, const, anyOf/oneOf/allOf, local $ref, and the string, number and array
bounds. `schema_errors` is the jsonschema validator's verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

Schema = dict[str, Any]
_FORMATS = {
    "date-time": "2000-01-01T00:00:00Z",
    "date": "2000-01-01",
    "time": "00:00:00Z",
    "email": "offline@example.com",
    "uri": "https://example.com/offline",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def example_for(schema: Schema, text: str, *, root: Schema | None = None, path: str = "") -> Any:
    """A value valid for `schema`; strings are `text`, tagged with their path, within bounds."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_for(schema[key][0], text, root=root, path=path)
    kind = _first_type(schema)
    if kind == "object":
        return {
            name: example_for(sub, text, root=root, path=f"{path}.{name}" if path else name)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        count = max(1, schema.get("minItems", 0))
        count = min(count, schema.get("maxItems", count))
        return [
            example_for(schema.get("items", {}), text, root=root, path=path) for _ in range(count)
        ]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        value = min(max(0, low), schema.get("maximum", max(0, low)))
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string_for(schema, f"{path}: {text}" if path else text)


def schema_errors(value: Any, schema: Schema) -> list[str]:
    """Where `value` breaks `schema`, as `path: reason` lines; empty when it is valid.

    The check is jsonschema's (draft 2020-12, the dialect of structured outputs): every keyword,
    `oneOf` meaning exactly one.
    """
    # Loaded at the first structured reply, not at every service's start.
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    return [
        f"{_path(error.absolute_path)}: {error.message}" for error in validator.iter_errors(value)
    ]


def _path(parts: Iterable[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return _resolve(target, root)


def _first_type(schema: Schema) -> str:
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return next((k for k in kinds if k != "null"), kinds[0] if kinds else "string")
    if isinstance(kinds, str):
        return kinds
    return "object" if "properties" in schema else "array" if "items" in schema else "string"


def _string_for(schema: Schema, text: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    value = re.sub(r"\s+", " ", text).strip() or "offline"
    value = value[: schema.get("maxLength", len(value))]
    return value.ljust(schema.get("minLength", 0), ".")
