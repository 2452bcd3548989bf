"""JavaScript values and the Nunjucks filters for `nunjucks`: `undefined`, JS `+`, member
lookup (`runtime.memberLookup`) and the filters of nunjucks/src/filters.js that promptfoo suites
use, each following its JS source (including when it throws).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from assertions.jsvalues import (
    JS_WHITESPACE,
    js_number,
    js_string,
    js_stringify,
    js_truthy,
)


class TemplateError(ValueError):
    """The text cannot be rendered as promptfoo would."""


class UnsupportedTemplate(TemplateError):
    """The text uses Nunjucks syntax beyond the supported subset, or is not valid Nunjucks."""


class TemplateRenderError(TemplateError):
    """Nunjucks would throw while rendering the text with these vars."""


class _Undefined:
    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Any = _Undefined()


def to_str(value: Any) -> str:
    """JS string conversion, with `undefined` as "undefined"."""
    return "undefined" if value is UNDEFINED else js_string(value)


def to_number(value: Any) -> float:
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        text = value.strip(JS_WHITESPACE)
        if not text:
            return 0.0
        return float(text.replace("Infinity", "inf")) if _FLOAT.fullmatch(text) else math.nan
    return math.nan


def js_add(left: Any, right: Any) -> Any:
    """JS `left + right`: concatenation if either side is (or converts to) a string."""
    left_p = js_string(left) if isinstance(left, list | dict) else left
    right_p = js_string(right) if isinstance(right, list | dict) else right
    if isinstance(left_p, str) or isinstance(right_p, str):
        return to_str(left_p) + to_str(right_p)
    return to_number(left_p) + to_number(right_p)


def _utf16_units(text: str) -> list[str]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [data[i : i + 2].decode("utf-16-le", "surrogatepass") for i in range(0, len(data), 2)]


def member(obj: Any, key: Any) -> Any:
    """Nunjucks `memberLookup`: `obj[key]`, `undefined` for null/undefined objects."""
    name = to_str(key)
    if isinstance(obj, dict):
        return next((v for k, v in obj.items() if js_string(k) == name), UNDEFINED)
    if isinstance(obj, list | str):
        items: list[Any] = _utf16_units(obj) if isinstance(obj, str) else obj
        if name == "length":
            return len(items)
        if name.isascii() and name.isdigit() and str(int(name)) == name and int(name) < len(items):
            return items[int(name)]
    return UNDEFINED


# -- filters (nunjucks/src/filters.js) ----------------------------------------------------------


def _normalize(value: Any, default: Any) -> Any:
    return default if value is None or value is UNDEFINED or value is False else value


def _string_method(value: Any, method: str) -> str:
    if not isinstance(value, str):
        raise TemplateRenderError(f"{to_str(value)}.{method} is not a function")
    return value


def _upper(value: Any, *_: Any) -> str:
    return _string_method(_normalize(value, ""), "toUpperCase").upper()


def _lower(value: Any, *_: Any) -> str:
    return _string_method(_normalize(value, ""), "toLowerCase").lower()


def _capitalize(value: Any, *_: Any) -> str:
    text = _string_method(_normalize(value, ""), "toLowerCase").lower()
    if text[:1] > "\uffff":  # charAt(0) is half of a surrogate pair: toUpperCase keeps it
        return text
    return text[:1].upper() + text[1:]


def _title(value: Any, *_: Any) -> str:
    text = _string_method(_normalize(value, ""), "split")
    return " ".join(_capitalize(word) for word in text.split(" "))


def _trim(value: Any, *_: Any) -> str:
    return _string_method(value, "replace").strip(JS_WHITESPACE)


def _length(value: Any, *_: Any) -> Any:
    value = _normalize(value, "")
    if isinstance(value, dict):
        return len(value)
    return member(value, "length")


def _default(value: Any, default: Any = UNDEFINED, boolean: Any = False, *_: Any) -> Any:
    if js_truthy(boolean):
        return value if js_truthy(value) else default
    return default if value is UNDEFINED else value


def _join(value: Any, separator: Any = UNDEFINED, attribute: Any = UNDEFINED, *_: Any) -> str:
    if not isinstance(value, list):
        raise TemplateRenderError(f"{to_str(value)}.join is not a function")
    items = [member(v, attribute) for v in value] if js_truthy(attribute) else value
    sep = to_str(separator) if js_truthy(separator) else ""
    return sep.join("" if v is None or v is UNDEFINED else js_string(v) for v in items)


def _replace(value: Any, old: Any = UNDEFINED, new: Any = UNDEFINED, count: Any = -1) -> Any:
    if isinstance(old, int | float) and not isinstance(old, bool):
        old = js_number(old)
    elif not isinstance(old, str):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    text = value if isinstance(value, str) else js_number(value)
    replacement = to_str(new)
    if old == "":
        return replacement + replacement.join(_utf16_units(text)) + replacement
    limit = -1.0 if count is UNDEFINED else to_number(count)
    if limit == -1 and not isinstance(count, str):  # `maxCount === -1`
        return replacement.join(text.split(old))
    if not limit > 0 or old not in text:
        return text
    return replacement.join(text.split(old, math.ceil(limit) if math.isfinite(limit) else -1))


def _first(value: Any, *_: Any) -> Any:
    if value is None or value is UNDEFINED:
        raise TemplateRenderError(f"Cannot read properties of {to_str(value)} (reading '0')")
    return member(value, 0)


def _last(value: Any, *_: Any) -> Any:
    if value is None or value is UNDEFINED:
        raise TemplateRenderError(f"Cannot read properties of {to_str(value)} (reading 'length')")
    return member(value, to_number(member(value, "length")) - 1)


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")


def _int(value: Any, default: Any = UNDEFINED, *_: Any) -> Any:
    m = _INT.match(to_str(value).lstrip(JS_WHITESPACE))
    return default if m is None else to_number(int(m.group()))


def _float(value: Any, default: Any = UNDEFINED, *_: Any) -> Any:
    m = _FLOAT.match(to_str(value).lstrip(JS_WHITESPACE))
    return default if m is None else float(m.group().replace("Infinity", "inf"))


def _string(value: Any, *_: Any) -> str:
    if value is None or value is UNDEFINED:
        raise TemplateRenderError(f"Cannot read properties of {to_str(value)} (reading 'toString')")
    return js_string(value)


def _dump(value: Any, spaces: Any = UNDEFINED, *_: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    if isinstance(spaces, str):
        indent = spaces[:10]
    elif isinstance(spaces, int | float) and not isinstance(spaces, bool) and spaces == spaces:
        indent = " " * int(max(0, min(10, spaces)))
    else:
        indent = ""
    return _stringify(value, indent, "")


def _stringify(value: Any, indent: str, current: str) -> str:
    if not indent or not isinstance(value, list | dict) or not value:
        return js_stringify(value)
    inner = current + indent
    if isinstance(value, list):
        parts = [_stringify(v, indent, inner) for v in value]
        return "[\n" + ",\n".join(inner + p for p in parts) + "\n" + current + "]"
    parts = [
        f"{js_stringify(js_string(k))}: {_stringify(v, indent, inner)}" for k, v in value.items()
    ]
    return "{\n" + ",\n".join(inner + p for p in parts) + "\n" + current + "}"


def _safe(value: Any, *_: Any) -> str:
    return "" if value is None or value is UNDEFINED else js_string(value)


_HTML = {"&": "&amp;", '"': "&quot;", "'": "&#39;", "<": "&lt;", ">": "&gt;"}


def _escape(value: Any, *_: Any) -> str:
    return re.sub(r"[&\"'<>]", lambda m: _HTML[m.group()], _safe(value))


FILTERS: dict[str, Callable[..., Any]] = {
    "upper": _upper,
    "lower": _lower,
    "capitalize": _capitalize,
    "title": _title,
    "trim": _trim,
    "length": _length,
    "default": _default,
    "d": _default,
    "join": _join,
    "replace": _replace,
    "first": _first,
    "last": _last,
    "int": _int,
    "float": _float,
    "string": _string,
    "dump": _dump,
    "safe": _safe,
    "escape": _escape,
    "e": _escape,
}
