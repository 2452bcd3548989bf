"""A small JSON Schema validator standing in for promptfoo's Ajv (draft-07, strict schema mode).

Implemented keywords: type, enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
minLength, maxLength, pattern (JS `u` regex, as Ajv), items (schema or tuple), additionalItems,
minItems, maxItems, uniqueItems, properties, patternProperties, additionalProperties, required,
minProperties, maxProperties, allOf, anyOf, oneOf, not, $ref (to `#…` in the same schema),
definitions/$defs, boolean schemas, format (the ajv-formats subset in `json_formats`; an unknown
format is invalid in strict mode); annotations are ignored. A `$schema` other than draft-07 is
invalid (Ajv has no such meta-schema). Other keywords Ajv knows (other formats,
multipleOf, if/then/else, dependencies, contains, propertyNames…) raise `SchemaUnsupported`; a
keyword Ajv does not know raises `SchemaInvalid`, as strict mode refuses to compile it.
Error texts follow Ajv's `errorsText` for the first error (Ajv stops at the first one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from assertions.json_formats import AJV_FORMATS, FORMATS
from assertions.jsregex import (
    JsRegex,
    JsRegexSyntaxError,
    JsRegexTimeout,
    JsRegexUnsupported,
    compile_js,
)
from assertions.jsvalues import js_number, json_equal


class SchemaInvalid(ValueError):
    """Ajv would refuse to compile this schema."""


class SchemaUnsupported(ValueError):
    """Ajv accepts this schema but this validator cannot check it."""


ANNOTATIONS = frozenset(
    {"$schema", "$comment", "title", "description", "default", "examples", "deprecated",
     "readOnly", "writeOnly", "propertyOrdering", "property_ordering"}
)  # fmt: skip
AJV_UNSUPPORTED = frozenset(
    {"multipleOf", "if", "then", "else", "dependencies", "dependentRequired",
     "dependentSchemas", "contains", "minContains", "maxContains", "propertyNames",
     "contentMediaType", "contentEncoding", "contentSchema", "unevaluatedProperties",
     "unevaluatedItems", "prefixItems", "$anchor", "$dynamicRef", "$dynamicAnchor",
     "$recursiveRef", "$recursiveAnchor", "$vocabulary", "nullable", "discriminator"}
)  # fmt: skip
COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
LIMITS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
SCHEMA_VALUED = ("additionalProperties", "additionalItems", "not")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "null": lambda d: d is None,
    "boolean": lambda d: isinstance(d, bool),
    "object": lambda d: isinstance(d, dict),
    "array": lambda d: isinstance(d, list),
    "string": lambda d: isinstance(d, str),
    "number": _is_number,
    # Ajv's integer test is `!(x % 1) && !isNaN(x)`, which Infinity passes.
    "integer": lambda d: _is_number(d) and (math.isinf(d) or float(d).is_integer()),
}


def _is_count(value: Any) -> bool:
    return _is_number(value) and value >= 0 and float(value).is_integer()


def _is_type(value: Any) -> bool:
    names = value if isinstance(value, list) else [value]
    return (
        bool(names)
        and len(set(map(str, names))) == len(names)
        and all(n in TYPE_TESTS for n in names)
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
    **dict.fromkeys(LIMITS, (_is_number, "number")),
    **dict.fromkeys(COUNTS, (_is_count, "integer")),
}
SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
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
        self.root = root
        self.patterns: dict[str, JsRegex] = {}
        if isinstance(root, dict) and "$schema" in root:
            _check_meta_schema(root["$schema"])
        self._check(root, "#", top=True)

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
                self._check(sub, f"{where}/{_pointer_token(name)}")
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
        node: Any = self.root
        for raw in unquote(ref[1:]).split("/")[1:]:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaInvalid(f"can't resolve reference {ref} from id #")
        return node

    # -- validation ----------------------------------------------------------------------------
    def first_error(self, data: Any) -> str | None:
        try:
            return self._validate(self.root, data, "")
        except RecursionError as exc:
            raise SchemaUnsupported("schema or data nested too deeply") from exc
        except JsRegexTimeout as exc:
            raise SchemaUnsupported(f"a pattern could not be evaluated: {exc}") from exc

    def _validate(self, node: Any, data: Any, path: str) -> str | None:
        if node is True:
            return None
        if node is False:
            return f"data{path} boolean schema is false"
        assert isinstance(node, dict)
        for step in (self._general, self._numbers, self._strings, self._arrays, self._objects):
            error = step(node, data, path)
            if error is not None:
                return error
        return None

    def _general(self, node: dict[str, Any], data: Any, path: str) -> str | None:
        if "$ref" in node and (error := self._validate(self._resolve(node["$ref"]), data, path)):
            return error
        if "type" in node:
            names = node["type"] if isinstance(node["type"], list) else [node["type"]]
            if not any(TYPE_TESTS[name](data) for name in names):
                return f"data{path} must be {','.join(names)}"
        if "enum" in node and not any(json_equal(data, v) for v in node["enum"]):
            return f"data{path} must be equal to one of the allowed values"
        if "const" in node and not json_equal(data, node["const"]):
            return f"data{path} must be equal to constant"
        for sub in node.get("allOf", []):
            if error := self._validate(sub, data, path):
                return error
        if "anyOf" in node and all(self._validate(s, data, path) for s in node["anyOf"]):
            return f"data{path} must match a schema in anyOf"
        if (
            "oneOf" in node
            and sum(self._validate(s, data, path) is None for s in node["oneOf"]) != 1
        ):
            return f"data{path} must match exactly one schema in oneOf"
        if "not" in node and self._validate(node["not"], data, path) is None:
            return f"data{path} must NOT be valid"
        return None

    def _numbers(self, node: dict[str, Any], data: Any, path: str) -> str | None:
        if not _is_number(data):
            return None
        for key, comparator in LIMITS.items():
            if key in node:
                limit = node[key]
                tests = {
                    ">=": data >= limit,
                    "<=": data <= limit,
                    ">": data > limit,
                    "<": data < limit,
                }
                if not tests[comparator]:
                    return f"data{path} must be {comparator} {js_number(limit)}"
        return None

    def _strings(self, node: dict[str, Any], data: Any, path: str) -> str | None:
        if not isinstance(data, str):
            return None
        length = len(data)  # Ajv counts code points (ucs2length), as Python does
        if "maxLength" in node and length > node["maxLength"]:
            return f"data{path} must NOT have more than {js_number(node['maxLength'])} characters"
        if "minLength" in node and length < node["minLength"]:
            return f"data{path} must NOT have fewer than {js_number(node['minLength'])} characters"
        if "pattern" in node and not self.patterns[node["pattern"]].test(data):
            return f'data{path} must match pattern "{node["pattern"]}"'
        if "format" in node and not FORMATS[node["format"]](data):
            return f'data{path} must match format "{node["format"]}"'
        return None

    def _arrays(self, node: dict[str, Any], data: Any, path: str) -> str | None:
        if not isinstance(data, list):
            return None
        if "maxItems" in node and len(data) > node["maxItems"]:
            return f"data{path} must NOT have more than {js_number(node['maxItems'])} items"
        if "minItems" in node and len(data) < node["minItems"]:
            return f"data{path} must NOT have fewer than {js_number(node['minItems'])} items"
        items = node.get("items", True)
        tuple_schemas = items if isinstance(items, list) else []
        for i, element in enumerate(data):
            if isinstance(items, list):
                sub = items[i] if i < len(items) else node.get("additionalItems", True)
            else:
                sub = items
            if sub is False and isinstance(items, list):
                return f"data{path} must NOT have more than {len(tuple_schemas)} items"
            if error := self._validate(sub, element, f"{path}/{i}"):
                return error
        if node.get("uniqueItems") is True:
            for i in range(len(data) - 1, -1, -1):
                for j in range(i - 1, -1, -1):
                    if json_equal(data[i], data[j]):
                        return f"data{path} must NOT have duplicate items (items ## {j} and {i} are identical)"
        return None

    def _objects(self, node: dict[str, Any], data: Any, path: str) -> str | None:
        if not isinstance(data, dict):
            return None
        if "maxProperties" in node and len(data) > node["maxProperties"]:
            return (
                f"data{path} must NOT have more than {js_number(node['maxProperties'])} properties"
            )
        if "minProperties" in node and len(data) < node["minProperties"]:
            return (
                f"data{path} must NOT have fewer than {js_number(node['minProperties'])} properties"
            )
        for name in node.get("required", []):
            if name not in data:
                return f"data{path} must have required property '{name}'"
        properties: dict[str, Any] = node.get("properties", {})
        patterns: dict[str, Any] = node.get("patternProperties", {})
        for key, value in data.items():
            where = f"{path}/{_pointer_token(key)}"
            matched = [sub for source, sub in patterns.items() if self.patterns[source].test(key)]
            if key in properties:
                matched.insert(0, properties[key])
            elif not matched and "additionalProperties" in node:
                extra = node["additionalProperties"]
                if extra is False:
                    return f"data{path} must NOT have additional properties"
                matched = [extra]
            for sub in matched:
                if error := self._validate(sub, value, where):
                    return error
        return None
