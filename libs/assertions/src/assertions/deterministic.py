"""The deterministic assertion types, each as promptfoo's handler decides it (its invariants
become `CheckError`s, its failures `Outcome`s): equals, contains family, regex, starts-with,
levenshtein, latency.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from assertions.check import Check, CheckError, Outcome, not_, passed_or
from assertions.jsregex import (
    JsRegexSyntaxError,
    JsRegexTimeout,
    JsRegexUnsupported,
    compile_js,
    utf16_units,
)
from assertions.jsvalues import (
    deep_strict_equal,
    js_join,
    js_number,
    js_string,
    js_stringify,
    js_truthy,
    parse_comma_separated,
    parse_json,
)


def handle_equals(check: Check) -> Outcome:
    value, output, inverse = check.value, check.output, check.inverse
    if check.value_missing:
        # promptfoo: `String(undefined)` is compared with the output.
        pass_ = (output == "undefined") != inverse
        return passed_or(pass_, f'Expected output "{output}" to {not_(inverse)}equal "undefined"')
    if value is None or isinstance(value, dict | list):  # typeof null === "object"
        try:
            equal = deep_strict_equal(value, parse_json(output))
        except ValueError:
            equal = False  # unparsable output cannot equal an object, so not-equals passes
        expected = js_stringify(value)
    else:
        expected = js_string(value)
        equal = expected == output
    pass_ = equal != inverse
    return passed_or(pass_, f'Expected output "{output}" to {not_(inverse)}equal "{expected}"')


def _contains_value(check: Check) -> str:
    value = check.value
    is_string = isinstance(value, str) and value != ""
    is_number = (
        isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    )
    if not (is_string or is_number):
        raise CheckError(f'"{check.base_type}" assertion type must have a string or number value')
    return js_string(value)


def handle_contains(check: Check) -> Outcome:
    needle = _contains_value(check)
    pass_ = (needle in check.output) != check.inverse
    return passed_or(pass_, f'Expected output to {not_(check.inverse)}contain "{needle}"')


def handle_icontains(check: Check) -> Outcome:
    needle = _contains_value(check)
    # JS toLowerCase is Python's lower(), not casefold(): "ß" stays "ß".
    pass_ = (needle.lower() in check.output.lower()) != check.inverse
    return passed_or(pass_, f'Expected output to {not_(check.inverse)}contain "{needle}"')


def _value_list(check: Check) -> list[Any]:
    value = check.value
    if not js_truthy(value):
        raise CheckError(f'"{check.base_type}" assertion type must have a value')
    if isinstance(value, str):
        try:
            value = parse_comma_separated(value)
        except ValueError as exc:
            raise CheckError(str(exc)) from exc
    if not isinstance(value, list):
        raise CheckError(f'"{check.base_type}" assertion type must have an array value')
    return value


def _any_or_all(check: Check, fold: Callable[[str], str]) -> Outcome:
    values = _value_list(check)
    output = fold(check.output)
    inverse = check.inverse
    if check.base_type.endswith("-any"):
        pass_ = any(fold(js_string(v)) in output for v in values) != inverse
        reason = f'Expected output to {not_(inverse)}contain one of "{js_join(values, ", ")}"'
        return passed_or(pass_, reason)
    missing = [v for v in values if fold(js_string(v)) not in output]
    pass_ = (not missing) != inverse
    reason = (
        f"Expected output to {not_(inverse)}contain all of [{js_join(values, ', ')}]. "
        f"Missing: [{js_join(missing, ', ')}]"
    )
    return passed_or(pass_, reason)


def handle_contains_any_all(check: Check) -> Outcome:
    return _any_or_all(check, lambda s: s)


def handle_icontains_any_all(check: Check) -> Outcome:
    return _any_or_all(check, str.lower)


def _string_value(check: Check) -> str:
    if not isinstance(check.value, str) or check.value == "":
        raise CheckError(f'"{check.base_type}" assertion type must have a string value')
    return check.value


def handle_regex(check: Check) -> Outcome:
    pattern = _string_value(check)
    try:
        regex = compile_js(pattern)
    except JsRegexSyntaxError as exc:
        # promptfoo: a failure, with V8's message
        return Outcome(False, 0.0, f"Invalid regex pattern: {exc.v8_message(pattern)}")
    except JsRegexUnsupported as exc:
        raise CheckError(f"regex /{pattern}/ cannot be evaluated here: {exc}") from exc
    try:
        pass_ = regex.test(check.output) != check.inverse
    except JsRegexTimeout as exc:
        raise CheckError(f"regex /{pattern}/ could not be evaluated: {exc}") from exc
    return passed_or(pass_, f'Expected output to {not_(check.inverse)}match regex "{pattern}"')


def handle_starts_with(check: Check) -> Outcome:
    prefix = _string_value(check)
    pass_ = check.output.startswith(prefix) != check.inverse
    return passed_or(pass_, f'Expected output to {not_(check.inverse)}start with "{prefix}"')


def levenshtein(a: str, b: str) -> int:
    """Edit distance over UTF-16 code units (fastest-levenshtein), bit-parallel (Myers/Hyyrö)."""
    a, b = utf16_units(a), utf16_units(b)
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask, last = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        score += (1 if ph & last else 0) - (1 if mh & last else 0)
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def handle_levenshtein(check: Check) -> Outcome:
    # promptfoo 0.123: `threshold ?? 5` (0 stays 0) and `not-` inverts the comparison.
    if not isinstance(check.value, str):
        raise CheckError('"levenshtein" assertion type must have a string value')
    distance = levenshtein(check.output, check.value)
    limit = 5.0 if check.threshold is None else check.threshold
    inverse = check.inverse
    pass_ = (distance <= limit) != inverse
    relation = "less than or equal to" if inverse else "greater than"
    reason = f"Levenshtein distance {distance} is {relation} threshold {js_number(limit)}"
    return passed_or(pass_, reason)


def handle_latency(check: Check) -> Outcome:
    latency, threshold, inverse = check.latency_ms, check.threshold, check.inverse
    if latency is None:
        raise CheckError(
            "Latency assertion does not support cached results. Rerun the eval with --no-cache"
        )
    if threshold is None:
        if inverse:
            raise CheckError("Latency assertion requires a threshold when using not-latency")
        if not check.metric:
            raise CheckError(
                "Latency assertion without a threshold must set `metric` to record as a named metric"
            )
        return Outcome(True, float(latency), "Assertion passed")
    pass_ = latency > threshold if inverse else latency <= threshold
    ms, limit = js_number(latency), js_number(threshold)
    if inverse:
        reason = f"Latency {ms}ms is less than or equal to threshold {limit}ms"
    else:
        reason = f"Latency {ms}ms is greater than threshold {limit}ms"
    return passed_or(pass_, reason)


HANDLERS: dict[str, Callable[[Check], Outcome]] = {
    "equals": handle_equals,
    "contains": handle_contains,
    "icontains": handle_icontains,
    "contains-any": handle_contains_any_all,
    "contains-all": handle_contains_any_all,
    "icontains-any": handle_icontains_any_all,
    "icontains-all": handle_icontains_any_all,
    "regex": handle_regex,
    "starts-with": handle_starts_with,
    "levenshtein": handle_levenshtein,
    "latency": handle_latency,
}
