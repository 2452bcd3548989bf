"""JSON Schema as promptfoo's Ajv reads it (draft-07, strict schema mode), checked by `jsonschema`.

Compiling refuses what Ajv's strict mode refuses (`SchemaInvalid`: an unknown keyword or format, a
keyword with a wrong value, `then` without `if`, a `$schema` other than draft-07) and what this
engine cannot check (`SchemaUnsupported`: ajv-formats' formats missing from `json_formats`,
draft 2019+ keywords, `$ref` outside the schema, JS regexes `jsregex` cannot run). Supported:
the draft-07 validation and applicator keywords (type, enum, const, multipleOf, the number, string,
array and object bounds, pattern, items, additionalItems, contains, properties,
patternProperties, additionalProperties, dependencies, propertyNames, allOf, anyOf, oneOf, not,
if/then/else, local $ref, definitions/$defs, boolean schemas, format). Validation is
`json_schema_ajv`'s validator; the reason is Ajv's `errorsText` (`json_schema_errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assertions.json_formats import AJV_FORMATS, FORMATS
from assertions.json_schema_ajv import build_validator, mark_false, resolve
from assertions.json_schema_errors import ajv_errors_text
from assertions.jsregex import (
    JsRegex,
    JsRegexSyntaxError,
    JsRegexTimeout,
    JsRegexUnsupported,
    compile_js,
)
from contracts.storable import JSON_DEPTH_MAX, json_depth


class SchemaInvalid(ValueError):
    """Ajv would refuse to compile this schema."""


class SchemaUnsupported(ValueError):
    """Ajv accepts this schema but this validator cannot check it."""


ANNOTATIONS = frozenset(
    {"$schema", "$comment", "title", "description", "default", "examples", "deprecated",
     "readOnly", "writeOnly", "propertyOrdering", "property_ordering"}
)  # fmt: skip
AJV_UNSUPPORTED = frozenset(
    {"dependentRequired", "dependentSchemas", "minContains", "maxContains", "contentMediaType", "contentEncoding", "contentSchema", "unevaluatedProperties",
     "unevaluatedItems", "prefixItems", "$anchor", "$dynamicRef", "$dynamicAnchor",
     "$recursiveRef", "$recursiveAnchor", "$vocabulary", "nullable", "discriminator"}
)  # fmt: skip
COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
LIMITS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
SCHEMA_VALUED = (
    "additionalProperties", "additionalItems", "not", "if", "then", "else", "contains",
    "propertyNames",
)  # fmt: skip
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


TYPE_NAMES = frozenset({"null", "boolean", "object", "array", "string", "number", "integer"})


def _is_count(value: Any) -> bool:
    return _is_number(value) and value >= 0 and float(value).is_integer()


def _is_type(value: Any) -> bool:
    names = value if isinstance(value, list) else [value]
    return (
        bool(names)
        and len(set(map(str, names))) == len(names)
        and all(n in TYPE_NAMES for n in names)
    )


LEAF_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "$ref": (lambda v: isinstance(v, str), "string"),
    "type": (_is_type, "equal to one of the allowed values"),
    "enum": (lambda v: isinstance(v, list), "array"),
    "const": (lambda _: True, "anything"),
    "pattern": (lambda v: isinstance(v, str), "string"),
    "format": (lambda v: isinstance(v, str), "string"),
    "required": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "array of strings",
    ),
    "uniqueItems": (lambda v: isinstance(v, bool), "boolean"),
    "multipleOf": (lambda v: _is_number(v) and v > 0, "number > 0"),
    **dict.fromkeys(LIMITS, (_is_number, "number")),
    **dict.fromkeys(COUNTS, (_is_count, "integer")),
}
SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependencies")
SUBSCHEMA_KEYWORDS = frozenset({*SCHEMA_MAPS, *SCHEMA_VALUED, *SCHEMA_LISTS, "items"})


# The meta-schemas Ajv (draft-07, its default) knows; Ajv refuses to compile against any other.
META_SCHEMAS = frozenset(
    {"http://json-schema.org/draft-07/schema", "http://json-schema.org/draft-07/schema#"}
)


def _check_meta_schema(uri: Any) -> None:
    if not isinstance(uri, str):
        raise SchemaInvalid("$schema must be a string")
    if uri not in META_SCHEMAS:
        raise SchemaInvalid(f'no schema with key or ref "{uri}"')


def _pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Schema:
    """A compiled schema; `first_error(data)` is None when the data conforms."""

    def __init__(self, root: Any) -> None:
        if not isinstance(root, dict | bool):
            raise SchemaInvalid("schema must be object or boolean")
        if json_depth(root) > JSON_DEPTH_MAX:
            # Checking and validating recurse level by level: deeper would exhaust the stack.
            raise SchemaUnsupported(
                f"the schema nests deeper than {JSON_DEPTH_MAX} levels of objects and arrays; "
                f"the limit is {JSON_DEPTH_MAX}"
            )
        self.root = root
        self.patterns: dict[str, JsRegex] = {}
        if isinstance(root, dict) and "$schema" in root:
            _check_meta_schema(root["$schema"])
        self._check(root, "#", top=True)
        self._marked = mark_false(root)
        self._validator = build_validator(self._marked, self.patterns)

    # -- compile-time checks -------------------------------------------------------------------
    def _regex(self, source: Any, where: str) -> None:
        if not isinstance(source, str):
            raise SchemaInvalid(f"schema is invalid: {where} must be string")
        try:
            self.patterns[source] = compile_js(source, unicode=True)
        except JsRegexSyntaxError as exc:
            raise SchemaInvalid(f"{exc}: /{source}/") from exc
        except JsRegexUnsupported as exc:
            raise SchemaUnsupported(f"pattern /{source}/: {exc}") from exc

    def _format(self, name: str, where: str) -> None:
        if name not in AJV_FORMATS:
            at = where.rsplit("/", 1)[0]
            raise SchemaInvalid(f'unknown format "{name}" ignored in schema at path "{at}"')
        if name not in FORMATS:
            raise SchemaUnsupported(f'JSON Schema format "{name}" is not supported here')

    def _check(self, node: Any, where: str, top: bool = False) -> None:
        if isinstance(node, bool):
            return
        if not isinstance(node, dict):
            raise SchemaInvalid(f"schema is invalid: {where} must be object,boolean")
        if "if" in node and "then" not in node and "else" not in node:
            raise SchemaInvalid('strict mode: "if" without "then" and "else" is ignored')
        for clause in ("then", "else"):
            if clause in node and "if" not in node:
                raise SchemaInvalid(f'strict mode: "{clause}" without "if" is ignored')
        for key, value in node.items():
            self._check_keyword(node, key, value, f"{where}/{_pointer_token(key)}", top)

    def _check_keyword(
        self, node: dict[str, Any], key: str, value: Any, where: str, top: bool
    ) -> None:
        if key in ANNOTATIONS or (key == "$id" and top):
            return
        if key in AJV_UNSUPPORTED or key == "$id":
            raise SchemaUnsupported(f'JSON Schema keyword "{key}" is not supported here')
        if key in LEAF_RULES:
            accepts, expected = LEAF_RULES[key]
            if not accepts(value):
                raise SchemaInvalid(f"schema is invalid: {where} must be {expected}")
            if key == "$ref":
                self._resolve(value)
            elif key == "pattern":
                self._regex(value, where)
            elif key == "format":
                self._format(value, where)
        elif key in SUBSCHEMA_KEYWORDS:
            self._check_subschemas(node, key, value, where)
        else:
            raise SchemaInvalid(f'strict mode: unknown keyword: "{key}"')

    def _check_subschemas(self, node: dict[str, Any], key: str, value: Any, where: str) -> None:
        if key in SCHEMA_MAPS:
            if not isinstance(value, dict):
                raise SchemaInvalid(f"schema is invalid: {where} must be object")
            for name, sub in value.items():
                if key == "patternProperties":
                    self._regex(name, where)
                at = f"{where}/{_pointer_token(name)}"
                if key == "dependencies" and isinstance(sub, list):
                    if not all(isinstance(x, str) for x in sub):
                        raise SchemaInvalid(f"schema is invalid: {at} must be array of strings")
                else:
                    self._check(sub, at)
        elif key in SCHEMA_LISTS or (key == "items" and isinstance(value, list)):
            if not isinstance(value, list) or (not value and key != "items"):
                raise SchemaInvalid(f"schema is invalid: {where} must be non-empty array")
            for i, sub in enumerate(value):
                self._check(sub, f"{where}/{i}")
        else:
            if key == "additionalItems" and not isinstance(node.get("items"), list):
                raise SchemaUnsupported('"additionalItems" without an "items" array')
            self._check(value, where)

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise SchemaUnsupported(
                f'$ref "{ref}": only references inside the schema are supported'
            )
        try:
            return resolve(self.root, ref)
        except LookupError:
            raise SchemaInvalid(f"can't resolve reference {ref} from id #") from None

    # -- validation ----------------------------------------------------------------------------
    def first_error(self, data: Any) -> str | None:
        """Ajv's `errorsText` for `data`, or None when it conforms."""
        try:
            return ajv_errors_text(self._validator, self._marked, data)
        except RecursionError as exc:
            raise SchemaUnsupported("schema or data nested too deeply") from exc
        except JsRegexTimeout as exc:
            raise SchemaUnsupported(f"a pattern could not be evaluated: {exc}") from exc
