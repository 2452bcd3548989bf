"""JavaScript regex semantics on Python's `re`: what `new RegExp(p).test(s)` (and Ajv's `u` form) says."""

from __future__ import annotations

import pytest

from assertions.jsregex import (
    JsRegexSyntaxError,
    JsRegexUnsupported,
    compile_js,
    utf16_units,
)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        # `$` is the end of the input only: no match before a trailing newline, unlike Python.
        (r"done$", "done\n", False),
        (r"done$", "done", True),
        (r"^a$", "x\na", False),
        # \d, \w and \b are ASCII-only.
        (r"^\d+$", "\u0663\u0664", False),
        (r"^\d+$", "34", True),
        (r"^\w+$", "café", False),
        (r"caf\b", "café", True),
        (r"\bé", "é", False),
        # \s is JavaScript's whitespace: NBSP and BOM yes, U+0085 no.
        (r"a\sb", "a\u00a0b", True),
        (r"a\sb", "a\ufeffb", True),
        (r"a\sb", "a\u0085b", False),
        # No flags: case-sensitive, `.` stops at any line terminator.
        (r"hello", "Hello", False),
        (r"a.c", "a\rc", False),
        (r"a.c", "a\u2028c", False),
        (r"a.c", "a\u0085c", True),
        # Non-unicode mode works on UTF-16 code units: an emoji is two of them.
        (r"^.$", "😀", False),
        (r"^..$", "😀", True),
        (r"^[😀]$", "😀", False),
        ("😀", "a😀b", True),
        # Annex B literals that Python would read as syntax.
        (r"a{,2}", "a{,2}", True),
        (r"{", "{", True),
        (r"x}", "x}", True),
        (r"]", "]", True),
        (r"\A", "A", True),
        (r"\Z", "Z", True),
        (r"\a", "a", True),
        (r"\x4", "x4", True),
        (r"\u004", "u004", True),
        (r"\u0041", "A", True),
        (r"\101", "A", True),
        (r"\8", "8", True),
        (r"\c1", "\\c1", True),
        (r"\cJ", "\n", True),
        (r"[\c1]", "\x11", True),
        (r"\k<x>", "k<x>", True),
        (r"\p{L}", "p{L}", True),
        # Classes.
        (r"[]", "a", False),
        (r"[^]", "\n", True),
        (r"[\d-z]", "-", True),
        (r"[\d-z]", "m", False),
        (r"[a-]", "-", True),
        (r"[\b]", "\b", True),
        (r"[^\W]", "é", False),
        (r"[]a]", "]", False),
        (r"[]a]", "a]", False),
        # Groups and backreferences: an unset group matches the empty string.
        (r"(a)?\1b", "b", True),
        (r"\1(a)", "a", True),
        (r"(a\1)", "a", True),
        (r"(?<year>\d{4})-\k<year>", "2024-2024", True),
        (r"(?<year>\d{4})-\k<year>", "2024-2025", False),
        (r"(?:ab)+c", "ababc", True),
        (r"(?=a)*b", "b", True),
        (r"(?<=\$)\d+", "cost $42", True),
        (r"(?<!\$)\b\d+", "$42", False),
        (r"a+?b", "aab", True),
        (r"colou?r", "color", True),
        (r"a/b", "a/b", True),
    ],
)
def test_pattern_matches_like_javascript(pattern: str, text: str, expected: bool) -> None:
    assert compile_js(pattern).test(text) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a**", "Nothing to repeat"),
        ("*a", "Nothing to repeat"),
        ("{1}", "Nothing to repeat"),
        ("a{1}{2}", "Nothing to repeat"),
        ("a*+", "Nothing to repeat"),
        ("^*", "Nothing to repeat"),
        ("(?<=a)*", "Nothing to repeat"),
        ("(", "Unterminated group"),
        ("a)", "Unmatched ')'"),
        ("[a", "Unterminated character class"),
        ("a\\", "\\ at end of pattern"),
        ("[z-a]", "Range out of order in character class"),
        ("a{3,1}", "numbers out of order in {} quantifier"),
        ("(?P<n>a)", "Invalid group"),
        ("(?i)a", "Invalid group"),
        ("(?i:a)", "Invalid group"),
        ("(?-i:a)", "Invalid group"),
        ("(?<1a>x)", "Invalid capture group name"),
        ("\\k<y>(?<x>a)", "Invalid named capture referenced"),
    ],
)
def test_pattern_javascript_rejects_is_a_syntax_error(pattern: str, message: str) -> None:
    with pytest.raises(JsRegexSyntaxError) as caught:
        compile_js(pattern)
    assert str(caught.value) == f"Invalid regular expression: {message}"


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?<a>x)|(?<a>y)",
        r"(?:(a)|b)+\1",
        r"(?<=(a)\1)b",
        r"a{100001}",
    ],
)
def test_valid_javascript_this_engine_cannot_run_is_unsupported(pattern: str) -> None:
    with pytest.raises(JsRegexUnsupported):
        compile_js(pattern)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"^.$", "😀", True),
        (r"^\u{1F600}$", "😀", True),
        (r"^\uD83D\uDE00$", "😀", True),
        (r"^\d+$", "\u0663", False),
        (r"^[a-z\-]+$", "ab-", True),
    ],
)
def test_unicode_mode_matches_code_points_as_ajv_patterns_do(
    pattern: str, text: str, expected: bool
) -> None:
    assert compile_js(pattern, unicode=True).test(text) is expected


@pytest.mark.parametrize(
    "pattern", [r"{", r"a{,2}", r"]", r"\a", r"\1", r"\x4", r"[\d-z]", r"\c1", r"(?=a)*"]
)
def test_unicode_mode_refuses_annex_b_forms(pattern: str) -> None:
    with pytest.raises(JsRegexSyntaxError):
        compile_js(pattern, unicode=True)


def test_unicode_property_escapes_are_unsupported_in_unicode_mode() -> None:
    with pytest.raises(JsRegexUnsupported):
        compile_js(r"\p{L}", unicode=True)


def test_utf16_units_splits_astral_characters_into_surrogates() -> None:
    assert utf16_units("a😀") == "a\ud83d\ude00"
    assert utf16_units("abc") == "abc"
