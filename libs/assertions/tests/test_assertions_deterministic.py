"""The deterministic assertion types give promptfoo's verdicts: equals, contains family, regex,
starts-with, levenshtein, latency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from assertions import Assertion, AssertionVerdict, evaluate
from assertions.deterministic import levenshtein
from assertions.jsregex import REGEX_TIMEOUT_SECONDS


async def check(
    output: str, type: str, value: Any = None, *, latency_ms: float | None = None, **fields: Any
) -> AssertionVerdict:
    verdict = await evaluate(
        output,
        [Assertion(type=type, value=value, **fields)],
        latency_ms=latency_ms,
        threshold=None,
        vars={},
        grader=None,
    )
    return verdict.assertions[0]


# -- equals ------------------------------------------------------------------------------------


async def test_equals_compares_the_whole_output_without_trimming() -> None:
    verdict = await check("Paris\n", "equals", "Paris")
    assert (verdict.pass_, verdict.score) == (False, 0.0)
    assert verdict.reason == 'Expected output "Paris\n" to equal "Paris"'
    assert (await check("Paris", "equals", "Paris")).pass_ is True


@pytest.mark.parametrize(
    ("output", "value", "expected"),
    [
        ("4", 4, True),
        ("1", 1.0, True),
        ("1.0", 1.0, False),
        ("true", True, True),
        ("True", True, False),
    ],
)
async def test_equals_compares_a_scalar_value_as_javascript_string(
    output: str, value: Any, expected: bool
) -> None:
    assert (await check(output, "equals", value)).pass_ is expected


async def test_equals_an_empty_string_matches_only_an_empty_output() -> None:
    assert (await check("", "equals", "")).pass_ is True
    assert (await check(" ", "equals", "")).pass_ is False


async def test_equals_an_object_value_deep_equals_the_parsed_output() -> None:
    assert (await check('{"b": [true], "a": 1.0}', "equals", {"a": 1, "b": [True]})).pass_ is True
    verdict = await check('{"a": 1}', "equals", {"a": True})
    assert verdict.pass_ is False
    assert verdict.reason == 'Expected output "{"a": 1}" to equal "{"a":true}"'


async def test_not_equals_passes_when_the_output_is_not_json_for_an_object_value() -> None:
    assert (await check("not json", "equals", ["a"])).pass_ is False
    assert (await check("not json", "not-equals", ["a"])).pass_ is True


async def test_not_equals_fails_on_an_equal_output() -> None:
    verdict = await check("yes", "not-equals", "yes")
    assert verdict.pass_ is False
    assert verdict.reason == 'Expected output "yes" to not equal "yes"'


async def test_equals_without_a_value_compares_with_the_text_undefined() -> None:
    async def equals_without_value(output: str, type: str = "equals") -> AssertionVerdict:
        verdict = await evaluate(
            output, [Assertion(type=type)], latency_ms=None, threshold=None, vars={}, grader=None
        )
        return verdict.assertions[0]

    assert (await equals_without_value("undefined")).pass_ is True
    verdict = await equals_without_value("x")
    assert (verdict.pass_, verdict.error) == (False, None)
    assert verdict.reason == 'Expected output "x" to equal "undefined"'
    assert (await equals_without_value("x", "not-equals")).pass_ is True


async def test_equals_a_null_value_deep_equals_the_parsed_output() -> None:
    assert (await check("null", "equals", None)).pass_ is True
    assert (await check(" null ", "equals", None)).pass_ is True
    verdict = await check("x", "equals", None)
    assert (verdict.pass_, verdict.error) == (False, None)
    assert verdict.reason == 'Expected output "x" to equal "null"'
    assert (await check("x", "not-equals", None)).pass_ is True
    assert (await check("null", "not-equals", None)).pass_ is False


# -- contains and icontains --------------------------------------------------------------------


async def test_contains_is_case_sensitive_and_does_not_trim() -> None:
    assert (await check("Paris", "contains", "paris")).pass_ is False
    assert (await check("a  b", "contains", "a b")).pass_ is False
    verdict = await check("Paris", "contains", "Lyon")
    assert verdict.reason == 'Expected output to contain "Lyon"'


async def test_contains_accepts_a_number_including_zero() -> None:
    assert (await check("10 items", "contains", 0)).pass_ is True
    assert (await check("costs 1.5", "contains", 1.5)).pass_ is True


@pytest.mark.parametrize("value", ["", None, True, ["a"]])
async def test_contains_without_a_string_or_number_is_an_error(value: Any) -> None:
    verdict = await check("x", "contains", value)
    assert verdict.error == '"contains" assertion type must have a string or number value'


async def test_not_contains_fails_when_the_text_is_present() -> None:
    verdict = await check("I am sorry", "not-contains", "sorry")
    assert verdict.pass_ is False
    assert verdict.reason == 'Expected output to not contain "sorry"'


async def test_icontains_lower_cases_like_javascript_not_casefold() -> None:
    # casefold() would turn "ß" into "ss" and pass; toLowerCase keeps "ß".
    assert (await check("STRASSE", "icontains", "straße")).pass_ is False
    assert (await check("Straße", "icontains", "STRASSE")).pass_ is False
    assert (await check("STRASSE", "icontains", "strasse")).pass_ is True
    # "İ" lower-cases to "i" + U+0307, so a plain "istanbul" is not inside it.
    assert (await check("İstanbul", "icontains", "istanbul")).pass_ is False
    assert (await check("İstanbul", "icontains", "i\u0307stanbul")).pass_ is True


# -- contains-any / contains-all ---------------------------------------------------------------


async def test_contains_any_reads_a_string_value_as_a_comma_list() -> None:
    assert (
        await check("a blue, green sky", "contains-any", 'red, "blue, green", yellow')
    ).pass_ is True
    verdict = await check("a blue sky", "contains-any", 'red, "blue, green", yellow')
    assert verdict.pass_ is False
    assert verdict.reason == 'Expected output to contain one of "red, blue, green, yellow"'


async def test_contains_all_trims_unquoted_fields_and_lists_the_missing_ones() -> None:
    verdict = await check("a c", "contains-all", " a , b ,c ")
    assert verdict.pass_ is False
    assert verdict.reason == "Expected output to contain all of [a, b, c]. Missing: [b]"


async def test_contains_all_of_an_empty_list_passes_and_contains_any_fails() -> None:
    assert (await check("x", "contains-all", [])).pass_ is True
    assert (await check("x", "contains-any", [])).pass_ is False


async def test_not_contains_all_passes_when_at_least_one_item_is_missing() -> None:
    assert (await check("a b", "not-contains-all", ["a", "z"])).pass_ is True
    assert (await check("a b", "not-contains-all", ["a", "b"])).pass_ is False


async def test_not_contains_any_fails_when_any_item_is_present() -> None:
    assert (await check("a b", "not-contains-any", ["z", "b"])).pass_ is False
    assert (await check("a b", "not-contains-any", ["y", "z"])).pass_ is True


async def test_icontains_any_and_all_compare_lower_cased() -> None:
    assert (await check("HELLO World", "icontains-any", ["world", "nope"])).pass_ is True
    assert (await check("HELLO World", "icontains-all", "hello,WORLD")).pass_ is True


async def test_contains_any_formats_numbers_like_javascript() -> None:
    assert (await check("version 1", "contains-any", [1.0])).pass_ is True


async def test_contains_any_with_an_empty_string_or_a_bad_list_is_an_error() -> None:
    assert (
        await check("x", "contains-any", "")
    ).error == '"contains-any" assertion type must have a value'
    assert (await check("x", "contains-all", {"a": 1})).error == (
        '"contains-all" assertion type must have an array value'
    )
    assert (await check("x", "icontains-any", '"open')).error == (
        "Unterminated quoted field in contains assertion value"
    )


# -- regex and starts-with ---------------------------------------------------------------------


async def test_regex_dollar_does_not_match_before_a_trailing_newline() -> None:
    assert (await check("done\n", "regex", "done$")).pass_ is False
    assert (await check("done", "regex", "done$")).pass_ is True


async def test_regex_digits_and_word_characters_are_ascii_only() -> None:
    assert (await check("\u0661\u0662", "regex", r"^\d+$")).pass_ is False
    assert (await check("café", "regex", r"^\w+$")).pass_ is False
    assert (await check("café", "regex", r"caf\b")).pass_ is True


async def test_regex_has_no_flags_and_searches_anywhere() -> None:
    assert (await check("Hello", "regex", "hello")).pass_ is False
    assert (await check("say hello there", "regex", "hel+o")).pass_ is True


async def test_invalid_regex_is_a_failure_not_an_error() -> None:
    verdict = await check("x", "regex", "a(")
    assert (verdict.pass_, verdict.error) == (False, None)
    assert verdict.reason == (
        "Invalid regex pattern: Invalid regular expression: /a(/: Unterminated group"
    )


async def test_regex_this_engine_cannot_run_is_an_error() -> None:
    verdict = await check("ab", "regex", "(?<a>x)|(?<a>y)")
    assert verdict.error == (
        "regex /(?<a>x)|(?<a>y)/ cannot be evaluated here: duplicate capture group names"
    )


async def test_variable_length_lookbehind_runs_as_in_javascript() -> None:
    assert (await check("aaab", "regex", "(?<=a+)b")).pass_ is True
    assert (await check("b", "regex", "(?<=a+)b")).pass_ is False


async def test_a_catastrophic_regex_is_an_error_naming_the_time_limit_and_never_holds_the_loop() -> (
    None
):
    evaluating = asyncio.create_task(check("a" * 5000, "regex", "(a+)+b"))
    turns = 0  # the event loop's turns for other work while the match runs
    while not evaluating.done():
        await asyncio.sleep(0.01)
        turns += 1
    verdict = evaluating.result()
    assert verdict.error == (
        f"regex /(a+)+b/ could not be evaluated: regex took longer than "
        f"{REGEX_TIMEOUT_SECONDS} s (the limit)"
    )
    assert (verdict.pass_, verdict.score) == (False, 0.0)
    # On the event loop the match would have run in one turn, to its end.
    assert turns > 2


async def test_the_pattern_that_froze_a_replica_is_judged_within_the_limit_on_a_short_output() -> (
    None
):
    verdict = await check("a" * 25, "regex", "(a+)+b")
    assert (verdict.pass_, verdict.error) == (False, None)  # no error: within the limit


async def test_not_regex_inverts_and_says_so() -> None:
    verdict = await check("abc", "not-regex", "b")
    assert verdict.pass_ is False
    assert verdict.reason == 'Expected output to not match regex "b"'


async def test_starts_with_fails_on_a_leading_space_or_newline() -> None:
    assert (await check(" Hello", "starts-with", "Hello")).pass_ is False
    assert (await check("\nHello", "starts-with", "Hello")).pass_ is False
    assert (await check("Hello there", "starts-with", "Hello")).pass_ is True
    assert (
        await check("Hello there", "not-starts-with", "Hello")
    ).reason == 'Expected output to not start with "Hello"'


async def test_starts_with_a_number_value_is_an_error() -> None:
    assert (
        await check("1", "starts-with", 1)
    ).error == '"starts-with" assertion type must have a string value'


# -- levenshtein -------------------------------------------------------------------------------


async def test_levenshtein_counts_utf16_code_units() -> None:
    verdict = await check("😀", "levenshtein", "", threshold=1)
    assert verdict.pass_ is False
    assert verdict.reason == "Levenshtein distance 2 is greater than threshold 1"


async def test_levenshtein_default_maximum_distance_is_five() -> None:
    assert (await check("kitten", "levenshtein", "sitting")).pass_ is True
    verdict = await check("abcdef", "levenshtein", "uvwxyz")
    assert verdict.reason == "Levenshtein distance 6 is greater than threshold 5"


async def test_levenshtein_threshold_zero_allows_no_edit() -> None:
    verdict = await check("abc", "levenshtein", "abd", threshold=0)
    assert (verdict.pass_, verdict.score) == (False, 0.0)
    assert verdict.reason == "Levenshtein distance 1 is greater than threshold 0"
    assert (await check("abc", "levenshtein", "abc", threshold=0)).pass_ is True


async def test_not_levenshtein_inverts_the_comparison() -> None:
    verdict = await check("same", "not-levenshtein", "same")
    assert (verdict.pass_, verdict.score) == (False, 0.0)
    assert verdict.reason == "Levenshtein distance 0 is less than or equal to threshold 5"
    far = await check("hello", "not-levenshtein", "goodbye, cruel world")
    assert (far.pass_, far.score, far.reason) == (True, 1.0, "Assertion passed")


async def test_levenshtein_with_a_non_string_value_is_an_error() -> None:
    assert (
        await check("1", "levenshtein", 1)
    ).error == '"levenshtein" assertion type must have a string value'


def _reference_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("kitten", "sitting"),
        ("", "abc"),
        ("flaw", "lawn"),
        ("a" * 70 + "b" * 30, "b" * 40 + "a" * 65),
        (
            "the quick brown fox jumps over the lazy dog" * 3,
            "the quack brown fax jumped over a lazy dog" * 3,
        ),
    ],
)
def test_bit_parallel_levenshtein_agrees_with_the_textbook_algorithm(a: str, b: str) -> None:
    assert levenshtein(a, b) == _reference_distance(a, b)


# -- latency -----------------------------------------------------------------------------------


async def test_latency_passes_at_or_below_the_threshold() -> None:
    assert (await check("x", "latency", threshold=100, latency_ms=100)).pass_ is True
    verdict = await check("x", "latency", threshold=100, latency_ms=150.5)
    assert verdict.reason == "Latency 150.5ms is greater than threshold 100ms"


async def test_not_latency_passes_above_the_threshold() -> None:
    assert (await check("x", "not-latency", threshold=100, latency_ms=150)).pass_ is True
    verdict = await check("x", "not-latency", threshold=100, latency_ms=100)
    assert verdict.reason == "Latency 100ms is less than or equal to threshold 100ms"


async def test_latency_threshold_zero_is_a_real_threshold() -> None:
    assert (await check("x", "latency", threshold=0, latency_ms=0)).pass_ is True
    assert (await check("x", "latency", threshold=0, latency_ms=1)).pass_ is False


async def test_latency_of_a_cached_response_is_an_error() -> None:
    verdict = await check("x", "latency", threshold=100, latency_ms=None)
    assert (
        verdict.error
        == "Latency assertion does not support cached results. Rerun the eval with --no-cache"
    )


async def test_latency_without_threshold_records_the_latency_as_a_metric() -> None:
    verdict = await check("x", "latency", metric="latency_ms", latency_ms=250)
    assert (verdict.pass_, verdict.score) == (True, 250.0)
    missing = await check("x", "latency", latency_ms=250)
    assert (
        missing.error
        == "Latency assertion without a threshold must set `metric` to record as a named metric"
    )
    inverse = await check("x", "not-latency", metric="m", latency_ms=250)
    assert inverse.error == "Latency assertion requires a threshold when using not-latency"
