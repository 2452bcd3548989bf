"""`validate_assertion`: refuses, before a run, what cannot give a meaningful promptfoo verdict —
unknown or unsupported types, missing or malformed values, patterns JavaScript would reject or
we cannot run, bad schemas, thresholds out of range, negative weights, unsupported templating.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from assertions.check import split_type
from assertions.engine import SUPPORTED_TYPES, is_promptfoo_only
from assertions.graded import SIMILARITY_METRICS
from assertions.json_checks import has_schema, load_schema
from assertions.json_schema import SchemaInvalid, SchemaUnsupported
from assertions.jsregex import JsRegexSyntaxError, JsRegexUnsupported, compile_js
from assertions.jsvalues import parse_comma_separated
from assertions.model import AssertionLike, InvalidAssertion, UnsupportedAssertion
from assertions.templating import UnsupportedTemplate, check_template

UNIT_RANGE = (0.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)
THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "similar": UNIT_RANGE,
    "similar:cosine": UNIT_RANGE,
    "similar:euclidean": NON_NEGATIVE,
    "llm-rubric": UNIT_RANGE,
    "levenshtein": NON_NEGATIVE,
    "latency": NON_NEGATIVE,
}


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _non_empty_string(a: AssertionLike) -> None:
    if not isinstance(a.value, str) or a.value == "":
        raise InvalidAssertion(f'"{a.type}" needs a non-empty string value')


def _equals(a: AssertionLike) -> None:
    if a.value is None:
        raise InvalidAssertion(
            f'"{a.type}" needs a value (an empty string compares with an empty output)'
        )


def _contains(a: AssertionLike) -> None:
    value = a.value
    number = (
        isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    )
    if not number:
        _non_empty_string(a)


def _value_list(a: AssertionLike) -> None:
    value = a.value
    if isinstance(value, str) and not _templated(value):
        try:
            value = parse_comma_separated(value)
        except ValueError as exc:
            raise InvalidAssertion(f'"{a.type}": {exc}') from exc
    if not isinstance(value, list | str) or not value:
        raise InvalidAssertion(f'"{a.type}" needs a non-empty list, or a comma-separated string')
    if isinstance(value, list) and any(isinstance(v, dict | list) or v is None for v in value):
        raise InvalidAssertion(f'"{a.type}" list items must be strings or numbers')


def _regex(a: AssertionLike) -> None:
    _non_empty_string(a)
    if _templated(a.value):
        return
    try:
        compile_js(a.value)
    except JsRegexSyntaxError as exc:
        raise InvalidAssertion(f'"{a.type}": {exc}: /{a.value}/') from exc
    except JsRegexUnsupported as exc:
        raise InvalidAssertion(
            f'"{a.type}": /{a.value}/ is valid JavaScript but cannot be run here: {exc}'
        ) from exc


def _schema(a: AssertionLike) -> None:
    if not has_schema(a.value) or _templated(a.value):
        return
    if not isinstance(a.value, dict | bool | str):
        raise InvalidAssertion(f'"{a.type}": a JSON Schema must be an object')
    try:
        load_schema(a.value, split_type(a.type)[0])
    except (SchemaInvalid, SchemaUnsupported) as exc:
        raise InvalidAssertion(f'"{a.type}": invalid JSON Schema: {exc}') from exc


def _levenshtein(a: AssertionLike) -> None:
    if not isinstance(a.value, str):
        raise InvalidAssertion(f'"{a.type}" needs a string value')


def _latency(a: AssertionLike) -> None:
    if a.threshold is None and (a.type.startswith("not-") or not a.metric):
        raise InvalidAssertion(
            f'"{a.type}" needs a threshold in milliseconds (or, for latency, a metric)'
        )


def _llm_rubric(a: AssertionLike) -> None:
    if not isinstance(a.value, dict):
        _non_empty_string(a)


def _similar(a: AssertionLike) -> None:
    values = a.value if isinstance(a.value, list) else [a.value]
    if not values or any(not isinstance(v, str) or v == "" for v in values):
        raise InvalidAssertion(f'"{a.type}" needs a non-empty string or a non-empty list of them')


VALUE_RULES: dict[str, Callable[[AssertionLike], None]] = {
    "equals": _equals,
    "contains": _contains,
    "icontains": _contains,
    "contains-any": _value_list,
    "contains-all": _value_list,
    "icontains-any": _value_list,
    "icontains-all": _value_list,
    "regex": _regex,
    "starts-with": _non_empty_string,
    "is-json": _schema,
    "contains-json": _schema,
    "levenshtein": _levenshtein,
    "latency": _latency,
    "llm-rubric": _llm_rubric,
    **dict.fromkeys(SIMILARITY_METRICS, _similar),
}


def _numbers(a: AssertionLike, base: str) -> None:
    if not math.isfinite(a.weight) or a.weight < 0:
        raise InvalidAssertion(f'"{a.type}": weight must be a number >= 0, not {a.weight}')
    if a.threshold is None:
        return
    low, high = THRESHOLD_RANGES.get(base, (-math.inf, math.inf))
    if not math.isfinite(a.threshold) or not low <= a.threshold <= high:
        raise InvalidAssertion(f'"{a.type}": threshold {a.threshold} is outside {low}..{high}')


def _templates(a: AssertionLike) -> None:
    texts = [a.metric or ""] + [
        v for v in (a.value if isinstance(a.value, list) else [a.value]) if isinstance(v, str)
    ]
    for text in texts:
        if text.startswith(("file://", "package:")):
            raise InvalidAssertion(
                f'"{a.type}": file:// and package: values are not supported; inline the value'
            )
        try:
            check_template(text)
        except UnsupportedTemplate as exc:
            raise InvalidAssertion(f'"{a.type}": {exc}') from exc


def validate_assertion(a: AssertionLike) -> None:
    """Raise `UnsupportedAssertion` or `InvalidAssertion`; return None for a runnable assertion."""
    try:
        _validate(a)
    except RecursionError:
        # The limits on patterns and schemas should keep every check shallow; if one is missed,
        # the assertion is still refused rather than failing the request.
        raise InvalidAssertion(f'"{a.type}": the value nests too deeply to check') from None


def _validate(a: AssertionLike) -> None:
    base, _ = split_type(a.type)
    if base not in SUPPORTED_TYPES:
        if is_promptfoo_only(base):
            raise UnsupportedAssertion(a.type)
        raise InvalidAssertion(f'unknown assertion type "{a.type}"')
    _numbers(a, base)
    _templates(a)
    VALUE_RULES[base](a)
