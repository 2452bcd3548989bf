"""Ajv's `errorsText` for a verdict of the `jsonschema` validator (`json_schema_ajv`).

Ajv stops at the first failing keyword (`allErrors: false`), taking keywords in its own order: a
type check first (or, for a single type with keywords of its own, where that type's keywords run),
then `$ref`, `const`, `enum`, `not`, `anyOf`, `oneOf`, `allOf`, `if`, then the number, string,
array and object keywords. Among jsonschema's errors the first in that order is worded as Ajv does;
`anyOf`, `oneOf` and `if` keep the errors of their branches before their own, as Ajv does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator

from assertions.json_schema_ajv import is_false, pointer, resolve
from assertions.jsvalues import js_number, json_equal

ANY_ORDER = ("$ref", "const", "enum", "not", "anyOf", "oneOf", "allOf", "if")
GROUPS = {
    "number": ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf"),
    "string": ("maxLength", "minLength", "pattern", "format"),
    "array": ("maxItems", "minItems", "uniqueItems", "additionalItems", "items", "contains"),
    "object": (
        "maxProperties", "minProperties", "required", "propertyNames", "additionalProperties",
        "dependencies", "properties", "patternProperties",
    ),
}  # fmt: skip
GROUP_ORDER = tuple(GROUPS)
COMPARISONS = {"maximum": "<=", "minimum": ">=", "exclusiveMaximum": "<", "exclusiveMinimum": ">"}
COUNTS = {
    "maxLength": ("more", "characters"), "minLength": ("fewer", "characters"),
    "maxItems": ("more", "items"), "minItems": ("fewer", "items"),
    "maxProperties": ("more", "properties"), "minProperties": ("fewer", "properties"),
}  # fmt: skip
MESSAGES = {
    "const": "must be equal to constant",
    "enum": "must be equal to one of the allowed values",
    "not": "must NOT be valid",
    "contains": "must contain at least 1 valid item(s)",
    "anyOf": "must match a schema in anyOf",
    "oneOf": "must match exactly one schema in oneOf",
    "multipleOf": "must be multiple of {}",
    "pattern": 'must match pattern "{}"',
    "format": 'must match format "{}"',
}
Path = tuple[Any, ...]


@dataclass(frozen=True)
class _Error:
    """A jsonschema error with its schema and data paths from the root."""

    schema_path: Path
    data_path: Path
    error: ValidationError


def ajv_errors_text(validator: Validator, root: Any, data: Any) -> str | None:
    """What promptfoo shows for `data` against the (marked) `root`; None when it conforms."""
    errors = [
        _Error(tuple(e.absolute_schema_path), tuple(e.absolute_path), e)
        for e in validator.iter_errors(data)
    ]
    if not errors:
        return None
    return ", ".join(_Explainer(validator, root).explain(errors, root, data, 0, 0))


def _key_index(data: Any, key: Any) -> int:
    return key if isinstance(data, list) else list(data).index(key)


class _Explainer:
    def __init__(self, validator: Validator, root: Any) -> None:
        self.validator, self.root = validator, root

    def rank(self, e: _Error, schema: dict[str, Any], data: Any, sd: int, dd: int) -> Path:
        keyword = e.schema_path[sd]
        if keyword == "type":
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            own = types[0] in GROUPS and any(k in schema for k in GROUPS[types[0]])
            primary: Path = (
                (2 + GROUP_ORDER.index(types[0]), 99) if len(types) == 1 and own else (0,)
            )
        elif keyword in ("then", "else"):
            primary = (1, ANY_ORDER.index("if"))
        elif keyword in ANY_ORDER:
            primary = (1, ANY_ORDER.index(keyword))
        else:
            group = next(g for g, words in GROUPS.items() if keyword in words)
            primary = (2 + GROUP_ORDER.index(group), GROUPS[group].index(keyword))
        return (*primary, *self.secondary(e, keyword, schema, data, sd, dd))

    def secondary(
        self, e: _Error, keyword: str, schema: dict[str, Any], data: Any, sd: int, dd: int
    ) -> Path:
        if keyword == "properties":
            return (list(schema["properties"]).index(e.schema_path[sd + 1]),)
        if keyword == "patternProperties":
            source = e.schema_path[sd + 1]
            return (list(schema[keyword]).index(source), _key_index(data, e.data_path[dd]))
        if keyword in ("allOf",) or (keyword == "items" and isinstance(schema["items"], list)):
            return (e.schema_path[sd + 1],)
        if keyword in ("items", "additionalItems", "additionalProperties"):
            return (_key_index(data, e.data_path[dd]) if len(e.data_path) > dd else -1,)
        if keyword == "propertyNames":
            return (_key_index(data, e.error.instance),)
        return ()

    def explain(self, errors: list[_Error], schema: Any, data: Any, sd: int, dd: int) -> list[str]:
        at = f"data{pointer(errors[0].data_path[:dd])}"
        if is_false(schema):
            return [f"{at} boolean schema is false"]
        first = min(errors, key=lambda e: self.rank(e, schema, data, sd, dd))
        rank = self.rank(first, schema, data, sd, dd)
        group = [e for e in errors if self.rank(e, schema, data, sd, dd) == rank]
        keyword: str = first.schema_path[sd]
        value = schema[keyword]
        if keyword in ("anyOf", "oneOf"):
            return [*self.branches(first, value, data, sd, dd), f"{at} {MESSAGES[keyword]}"]
        if keyword in ("then", "else"):
            inner = self.explain(group, value, data, sd + 1, dd)
            return [*inner, f'{at} must match "{keyword}" schema']
        if keyword == "propertyNames":
            key = first.error.instance
            inner = self.explain(group, value, key, sd + 1, dd)
            return [*inner, f"{at} property name must be valid"]
        descended = self.descend(first, group, keyword, schema, data, sd, dd)
        if descended is not None:
            return descended
        return [f"{at} {self.message(keyword, schema, data)}"]

    def descend(
        self,
        first: _Error,
        group: list[_Error],
        keyword: str,
        schema: dict[str, Any],
        data: Any,
        sd: int,
        dd: int,
    ) -> list[str] | None:
        value = schema[keyword]
        if keyword == "$ref":
            return self.explain(group, resolve(self.root, value), data, sd + 1, dd)
        if keyword == "allOf":
            return self.explain(group, value[first.schema_path[sd + 1]], data, sd + 2, dd)
        if keyword in ("properties", "patternProperties"):
            key = first.data_path[dd]
            sub = value[first.schema_path[sd + 1]]
            return self.explain(group, sub, data[key], sd + 2, dd + 1)
        if keyword == "items" and isinstance(value, list):
            index = first.schema_path[sd + 1]
            return self.explain(group, value[index], data[index], sd + 2, dd + 1)
        if keyword in ("items", "additionalItems", "additionalProperties") and value is not False:
            key = first.data_path[dd]
            return self.explain(group, value, data[key], sd + 1, dd + 1)
        if keyword == "dependencies":
            return self.dependencies(group, value, data, sd, dd)
        return None

    def dependencies(
        self, group: list[_Error], dependencies: dict[str, Any], data: Any, sd: int, dd: int
    ) -> list[str]:
        at = f"data{pointer(group[0].data_path[:dd])}"
        for name, needed in dependencies.items():
            if name not in data:
                continue
            if isinstance(needed, list):
                if any(n not in data for n in needed):
                    noun = "property" if len(needed) == 1 else "properties"
                    deps = ", ".join(needed)
                    return [f"{at} must have {noun} {deps} when property {name} is present"]
                continue
            sub = [e for e in group if e.schema_path[sd + 1 : sd + 2] == (name,)]
            if sub:
                return self.explain(sub, needed, data, sd + 2, dd)
        raise AssertionError("a dependencies error without a failing dependency")

    def branches(
        self, first: _Error, branches: list[Any], data: Any, sd: int, dd: int
    ) -> list[str]:
        """The errors of every failing branch, as Ajv keeps them for anyOf and oneOf."""
        found: Iterable[tuple[Path, Path, ValidationError]]
        if first.error.context:
            found = (
                (tuple(c.relative_schema_path), tuple(c.relative_path), c)
                for c in first.error.context
            )
        else:  # oneOf with more than one passing branch: jsonschema gives no branch errors
            found = (
                ((i, *x.relative_schema_path), tuple(x.relative_path), x)
                for i, branch in enumerate(branches)
                for x in self.validator.evolve(schema=branch).iter_errors(data)
            )
        errors = [
            _Error(first.schema_path + schema_path, first.data_path + data_path, e)
            for schema_path, data_path, e in found
        ]
        texts: list[str] = []
        for index, branch in enumerate(branches):
            sub = [e for e in errors if e.schema_path[sd + 1] == index]
            if sub:
                texts += self.explain(sub, branch, data, sd + 2, dd)
        return texts

    def message(self, keyword: str, schema: dict[str, Any], data: Any) -> str:
        value = schema[keyword]
        if keyword == "type":
            return f"must be {','.join(value if isinstance(value, list) else [value])}"
        if keyword in COMPARISONS:
            return f"must be {COMPARISONS[keyword]} {js_number(value)}"
        if keyword in COUNTS:
            more, noun = COUNTS[keyword]
            return f"must NOT have {more} than {js_number(value)} {noun}"
        if keyword == "required":
            missing = next(name for name in value if name not in data)
            return f"must have required property '{missing}'"
        if keyword == "additionalProperties":
            return "must NOT have additional properties"
        if keyword == "additionalItems":
            return f"must NOT have more than {len(schema['items'])} items"
        if keyword == "uniqueItems":
            for i in range(len(data) - 1, -1, -1):
                for j in range(i - 1, -1, -1):
                    if json_equal(data[i], data[j]):
                        return f"must NOT have duplicate items (items ## {j} and {i} are identical)"
            return "must NOT have duplicate items"
        if keyword in ("multipleOf", "pattern", "format"):
            return MESSAGES[keyword].format(js_number(value) if keyword == "multipleOf" else value)
        return MESSAGES[keyword]
