"""JavaScript value semantics promptfoo relies on: `String(x)`, `toFixed`, `trim`, truthiness,
`JSON.parse`/`JSON.stringify`, deep equality, UTF-16 lengths and its comma-list parser.
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from assertions.jsregex import SPACE, utf16_units

JS_WHITESPACE = "".join(chr(c) for lo, hi in SPACE for c in range(lo, hi + 1))


def js_trim(text: str) -> str:
    """`String.prototype.trim`: JS whitespace and line terminators, not Python's `strip()` set."""
    return text.strip(JS_WHITESPACE)


def js_truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, list | dict):
        return True
    return bool(value)


def _as_double(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def js_number(value: int | float) -> str:
    """`Number.prototype.toString()`: `1.0` is "1", `1e21` is "1e+21", `1e-7` is "1e-7"."""
    x = _as_double(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    digits_tuple = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, digits_tuple.digits))
    assert isinstance(digits_tuple.exponent, int)
    k, n = len(digits), len(digits) + digits_tuple.exponent  # value = 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    exponent = f"e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return sign + mantissa + exponent


def js_to_fixed(value: float, places: int) -> str:
    """`Number.prototype.toFixed`: exact binary value, ties away from zero."""
    x = _as_double(value)
    if math.isnan(x) or math.isinf(x) or abs(x) >= 1e21:
        return js_number(x)
    quantized = Decimal(abs(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return ("-" if x < 0 else "") + format(quantized, "f")


def js_string(value: Any) -> str:
    """`String(value)` for values that come from YAML/JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return js_join(value, ",")
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def js_join(values: list[Any] | tuple[Any, ...], separator: str) -> str:
    """`Array.prototype.join`: null and undefined become empty strings."""
    return separator.join("" if v is None else js_string(v) for v in values)


def js_stringify(value: Any) -> str:
    """`JSON.stringify(value)` without spacing."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        x = _as_double(value)
        return js_number(x) if math.isfinite(x) else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(js_stringify(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{json.dumps(js_string(k), ensure_ascii=False)}:{js_stringify(v)}"
            for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Unexpected token {name[0]} in JSON")


def parse_json(text: str) -> Any:
    """`JSON.parse`: strict JSON, no NaN/Infinity; every number is a double, as in JS."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=float)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=float)


def decode_prefix(text: str, start: int) -> tuple[Any, int]:
    """The JSON value that starts at `start` and where it ends; ValueError if there is none."""
    try:
        return _DECODER.raw_decode(text, start)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def _js_value(value: Any) -> Any:
    """A config or parsed value as JS would hold it: doubles for numbers, string keys."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _as_double(value)
    if isinstance(value, list | tuple):
        return [_js_value(v) for v in value]
    if isinstance(value, dict):
        return {js_string(k): _js_value(v) for k, v in value.items()}
    return value


def _equal(a: Any, b: Any, strict_zero: bool) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if strict_zero and a == 0 and b == 0:
            return math.copysign(1, a) == math.copysign(1, b)
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            _equal(x, y, strict_zero) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k], strict_zero) for k in a)
    return type(a) is type(b) and a == b


def deep_strict_equal(a: Any, b: Any) -> bool:
    """Node's `util.isDeepStrictEqual` on JSON-shaped values (`Object.is` for numbers)."""
    return _equal(_js_value(a), _js_value(b), strict_zero=True)


def json_equal(a: Any, b: Any) -> bool:
    """fast-deep-equal, which Ajv uses for `enum`, `const` and `uniqueItems` (0 equals -0)."""
    return _equal(_js_value(a), _js_value(b), strict_zero=False)


def utf16_length(text: str) -> int:
    return len(utf16_units(text))


def parse_comma_separated(value: str) -> list[str]:
    """promptfoo's `parseCommaSeparatedValues`: CSV-like fields, quotes, empty fields skipped."""
    results: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and (value[i] in JS_WHITESPACE or value[i] == ","):
            i += 1
        if i >= n:
            break
        if value[i] == '"':
            field, i = _quoted_field(value, i)
            while i < n and value[i] in JS_WHITESPACE:
                i += 1
            if i < n and value[i] != ",":
                raise ValueError("Expected comma after quoted field in contains assertion value")
        else:
            end = value.find(",", i)
            end = n if end == -1 else end
            field, i = js_trim(value[i:end]), end
        results.append(field)
    return results


def _quoted_field(value: str, start: int) -> tuple[str, int]:
    i, field = start + 1, []
    while i < len(value):
        ch, nxt = value[i], value[i + 1 : i + 2]
        if ch == "\\" and nxt in ('"', "\\") and nxt:
            field.append(nxt)
            i += 2
        elif ch == '"' and nxt == '"':
            field.append('"')
            i += 2
        elif ch == '"':
            return "".join(field), i + 1
        else:
            field.append(ch)
            i += 1
    raise ValueError("Unterminated quoted field in contains assertion value")
