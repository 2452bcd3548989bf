"""JavaScript regular expressions on the `regex` module: promptfoo's `new RegExp(value)` (no flags)
and Ajv's `new RegExp(pattern, "u")`, parsed by the ECMAScript grammar and re-emitted for `regex`
(its `re`-compatible syntax). A match runs for at most `REGEX_TIMEOUT_SECONDS`, past which
`JsRegexTimeout` names the limit: a catastrophic pattern never stalls the caller.

Supported: the whole ES2018 syntax without flags — literals and every escape (Annex B legacy forms
in non-unicode mode), classes, `.`, `^`/`$` (input edges only), `\\b`/`\\B`/`\\d`/`\\w` (ASCII),
`\\s` (JS whitespace), groups, named groups, backreferences (an unset group matches empty),
lookahead, lookbehind (variable-length too), greedy/lazy quantifiers. Non-unicode mode matches
UTF-16 code units, as JS does. Refused as unsupported (valid JS we cannot run faithfully):
`\\p{…}`, duplicate group names, escapes in group names,
backreferences inside lookbehind or to a group inside a repeated group, counts above 100000.
Modifiers `(?i)` and `(?i:…)` are syntax errors, as on Node 22 (V8 before 12.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from assertions.jsregex_chars import (
    BRACED,
    DIGITS,
    LINE_TERMINATORS,
    MAX_COUNT,
    SPACE,
    Cursor,
    JsRegexSyntaxError,
    JsRegexUnsupported,
    char_literal,
    complement,
    emit_set,
    is_name_char,
    utf16_units,
)

__all__ = [
    "REGEX_TIMEOUT_SECONDS",
    "SPACE",
    "JsRegex",
    "JsRegexSyntaxError",
    "JsRegexTimeout",
    "JsRegexUnsupported",
    "compile_js",
    "utf16_units",
]

REGEX_TIMEOUT_SECONDS = 0.5
REGEX_NESTING_MAX = 50
"""Groups inside groups in one pattern: deeper is refused before it is parsed further."""


class JsRegexTimeout(Exception):
    """A match ran past `REGEX_TIMEOUT_SECONDS` (catastrophic backtracking)."""

    def __init__(self) -> None:
        super().__init__(f"regex took longer than {REGEX_TIMEOUT_SECONDS} s (the limit)")


@dataclass
class _Atom:
    text: str
    quantifiable: bool = True
    first_group: int = 0
    last_group: int = 0


class _Parser(Cursor):
    """The grammar level: disjunctions, terms, quantifiers, groups and backreferences."""

    def __init__(self, source: str, unicode: bool) -> None:
        super().__init__(source, unicode)
        self.opened = 0
        self.open_groups: list[int] = []
        self.looped: set[int] = set()
        self.referenced: set[int] = set()
        self.lookbehind = 0
        self.seen_names: set[str] = set()
        self.depth = 0

    def braced_quantifier(self) -> tuple[int, int | None, int] | None:
        m = BRACED.match(self.src, self.pos)
        if m is None:
            return None
        low = int(m.group(1))
        high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        return low, high, m.end()

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> str:
        pattern = self.disjunction()
        if self.pos < len(self.src):
            raise self.fail("Unmatched ')'")
        if self.referenced & self.looped:
            raise JsRegexUnsupported("backreference to a group inside a repeated group")
        return pattern

    def disjunction(self) -> str:
        alternatives = [self.alternative()]
        while self.peek() == "|":
            self.pos += 1
            alternatives.append(self.alternative())
        return "|".join(alternatives)

    def alternative(self) -> str:
        terms: list[str] = []
        while self.peek() not in ("", "|", ")"):
            terms.append(self.term())
        return "".join(terms)

    def term(self) -> str:
        atom = self.atom()
        quantifier = self.quantifier()
        if quantifier is None:
            return atom.text
        if not atom.quantifiable:
            raise self.fail("Nothing to repeat")
        text, unbounded_or_many = quantifier
        if unbounded_or_many:
            self.looped.update(range(atom.first_group, atom.last_group + 1))
        return f"(?:{atom.text}){text}"

    def quantifier(self) -> tuple[str, bool] | None:
        ch = self.peek()
        if ch in ("*", "+", "?"):
            self.pos += 1
            text, many = ch, ch != "?"
        elif ch == "{" and (braced := self.braced_quantifier()) is not None:
            low, high, end = braced
            if high is not None and high < low:
                raise self.fail("numbers out of order in {} quantifier")
            if low > MAX_COUNT or (high or 0) > MAX_COUNT:
                raise JsRegexUnsupported(f"repetition count above {MAX_COUNT}")
            self.pos = end
            text = f"{{{low}}}" if high == low else f"{{{low},{'' if high is None else high}}}"
            many = high is None or high > 1
        else:
            return None
        if self.peek() == "?":
            self.pos += 1
            text += "?"
        return text, many

    def atom(self) -> _Atom:
        ch = self.peek()
        if ch == "^":
            self.pos += 1
            return _Atom("^", quantifiable=False)
        if ch == "$":
            self.pos += 1
            return _Atom(r"\Z", quantifiable=False)
        if ch == "(":
            return self.group()
        if ch in ("*", "+", "?"):
            raise self.fail("Nothing to repeat")
        if ch == "{" and (self.u or self.braced_quantifier() is not None):
            raise self.fail("Nothing to repeat" if not self.u else "Lone quantifier brackets")
        if ch in ("]", "}") and self.u:
            raise self.fail("Lone quantifier brackets")
        if ch == ".":
            self.pos += 1
            return _Atom(emit_set(complement(LINE_TERMINATORS, self.top), self.top))
        if ch == "[":
            return _Atom(self.char_class())
        if ch == "\\":
            return self.atom_escape()
        self.pos += 1
        return _Atom(char_literal(ord(ch)))

    def group(self) -> _Atom:
        self.depth += 1
        if self.depth > REGEX_NESTING_MAX:
            # The parser (and the regex module's compiler) recurse once per level.
            raise JsRegexUnsupported(
                f"the pattern nests groups deeper than {REGEX_NESTING_MAX} levels; "
                f"the limit is {REGEX_NESTING_MAX}"
            )
        try:
            return self._group()
        finally:
            self.depth -= 1

    def _group(self) -> _Atom:
        self.pos += 1
        kind = "capture"
        if self.peek() == "?":
            head = self.src[self.pos : self.pos + 3]
            if head[:2] in ("?=", "?!", "?:"):
                kind, self.pos = head[:2], self.pos + 2
            elif head in ("?<=", "?<!"):
                kind, self.pos = head, self.pos + 3
            elif head[:2] == "?<":
                self.pos += 2
                self.group_name()
            else:
                # Includes modifiers `(?i)` and `(?i:…)`: Node 22's V8 (promptfoo's) rejects them.
                raise self.fail("Invalid group")
        first = self.opened + 1
        if kind == "capture":
            self.opened += 1
            number = self.opened
            self.open_groups.append(number)
        if kind in ("?<=", "?<!"):
            self.lookbehind += 1
        body = self.disjunction()
        if self.peek() != ")":
            raise self.fail("Unterminated group")
        self.pos += 1
        if kind in ("?<=", "?<!"):
            self.lookbehind -= 1
        if kind == "capture":
            self.open_groups.pop()
            return _Atom(f"(?P<g{number}>{body})", True, first, self.opened)
        if kind == "?:":
            return _Atom(f"(?:{body})", True, first, self.opened)
        # Annex B lets a lookahead be quantified in non-unicode mode; lookbehind never.
        return _Atom(f"({kind}{body})", kind in ("?=", "?!") and not self.u, first, self.opened)

    def group_name(self) -> str:
        end = self.src.find(">", self.pos)
        if end == -1:
            raise self.fail("Invalid capture group name")
        name = self.src[self.pos : end]
        if "\\" in name or any(0xD800 <= ord(c) <= 0xDFFF for c in name):
            raise JsRegexUnsupported("escapes or astral characters in group names")
        if not name or not all(is_name_char(c, i == 0) for i, c in enumerate(name)):
            raise self.fail("Invalid capture group name")
        if name in self.seen_names:
            raise JsRegexUnsupported("duplicate capture group names")
        self.seen_names.add(name)
        self.pos = end + 1
        return name

    def backreference(self, number: int) -> _Atom:
        if self.lookbehind:
            raise JsRegexUnsupported("backreferences inside lookbehind")
        if number in self.open_groups or number > self.opened:
            # JS: a group that has not finished matching yet is undefined, so it matches empty.
            return _Atom("(?:)")
        self.referenced.add(number)
        return _Atom(f"(?(g{number})(?P=g{number})|)")

    def atom_escape(self) -> _Atom:
        self.pos += 1
        ch = self.peek()
        if ch == "":
            raise self.fail("\\ at end of pattern")
        if ch in "bB":
            self.pos += 1
            return _Atom("\\" + ch, quantifiable=False)
        if ch in "123456789":
            m = DIGITS.match(self.src, self.pos)
            assert m is not None
            if int(m.group()) <= self.total:
                self.pos = m.end()
                return self.backreference(int(m.group()))
            if self.u:
                raise self.fail("Invalid escape")
        if ch == "k" and (self.u or self.named):
            self.pos += 1
            if self.peek() != "<":
                raise self.fail("Invalid named reference")
            end = self.src.find(">", self.pos)
            name = self.src[self.pos + 1 : end] if end != -1 else ""
            if name not in self.names:
                raise self.fail("Invalid named capture referenced")
            self.pos = end + 1
            return self.backreference(self.names[name])
        value = self.class_or_char_escape(in_class=False)
        if isinstance(value, list):
            return _Atom(emit_set(value, self.top))
        return _Atom(char_literal(value))


@dataclass(frozen=True)
class JsRegex:
    """A compiled JavaScript pattern; `test` is `RegExp.prototype.test`, within the time limit."""

    source: str
    unicode: bool
    compiled: regex.Pattern[str]

    def test(self, text: str) -> bool:
        subject = text if self.unicode else utf16_units(text)
        try:
            # `concurrent`: the match releases the GIL, so the event loop's thread runs meanwhile.
            found = self.compiled.search(subject, timeout=REGEX_TIMEOUT_SECONDS, concurrent=True)
            return found is not None
        except TimeoutError:
            raise JsRegexTimeout() from None


def compile_js(source: str, *, unicode: bool = False) -> JsRegex:
    """Compile like `new RegExp(source)` (or with the `u` flag); raise the two errors above."""
    python_pattern = _Parser(source, unicode).parse()
    try:
        compiled = regex.compile(python_pattern, regex.ASCII | regex.VERSION0)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise JsRegexUnsupported(f"{exc} (the regex module cannot run this pattern)") from exc
    return JsRegex(source, unicode, compiled)
