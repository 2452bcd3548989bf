"""A small JSON Schema subset, both ways: a deterministic instance of a schema, and a checker.

It covers what structured-output schemas use: type (one or a list), properties, required,
additionalProperties, items, enum, const, anyOf/oneOf/allOf, local $ref, and the string, number
and array bounds. Keywords outside that subset are ignored, never guessed.
"""

from __future__ import annotations

import re
from typing import Any

Schema = dict[str, Any]
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
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


def schema_errors(
    value: Any, schema: Schema, *, root: Schema | None = None, at: str = "$"
) -> list[str]:
    """Where `value` breaks `schema`, as `path: reason` lines; empty when it is valid."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    kinds = schema.get("type")
    if kinds is not None:
        allowed = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is_type(value, kind) for kind in allowed):
            return [f"{at}: expected {' or '.join(allowed)}"]
    if "const" in schema and value != schema["const"]:
        return [f"{at}: expected {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: not one of {schema['enum']!r}"]
    errors: list[str] = []
    for sub in schema.get("allOf", []):
        errors += schema_errors(value, sub, root=root, at=at)
    for key in ("anyOf", "oneOf"):
        if key in schema and all(schema_errors(value, s, root=root, at=at) for s in schema[key]):
            errors.append(f"{at}: matches none of {key}")
    if isinstance(value, dict):
        errors += _object_errors(value, schema, root, at)
    elif isinstance(value, list):
        errors += _array_errors(value, schema, root, at)
    elif isinstance(value, str) and not _within(len(value), schema, "minLength", "maxLength"):
        errors.append(f"{at}: length {len(value)} out of bounds")
    elif _is_type(value, "number") and not _within(value, schema, "minimum", "maximum"):
        errors.append(f"{at}: {value} out of bounds")
    return errors


def _object_errors(value: dict[str, Any], schema: Schema, root: Schema, at: str) -> list[str]:
    properties = schema.get("properties", {})
    errors = [f"{at}: missing {name!r}" for name in schema.get("required", []) if name not in value]
    for name, item in value.items():
        if name in properties:
            errors += schema_errors(item, properties[name], root=root, at=f"{at}.{name}")
        elif schema.get("additionalProperties") is False:
            errors.append(f"{at}: unexpected {name!r}")
    return errors


def _array_errors(value: list[Any], schema: Schema, root: Schema, at: str) -> list[str]:
    errors: list[str] = []
    if not _within(len(value), schema, "minItems", "maxItems"):
        errors.append(f"{at}: {len(value)} items out of bounds")
    if isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root=root, at=f"{at}[{index}]")
    return errors


def _within(number: float, schema: Schema, low: str, high: str) -> bool:
    return bool(schema.get(low, number) <= number <= schema.get(high, number))


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


def _is_type(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, (object,)))


def _string_for(schema: Schema, text: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    value = re.sub(r"\s+", " ", text).strip() or "offline"
    value = value[: schema.get("maxLength", len(value))]
    return value.ljust(schema.get("minLength", 0), ".")
