"""Character level of the JS regex translator: the errors, JavaScript's character sets, UTF-16
code units, and the `Cursor` that reads escapes and character classes (with Annex B's legacy
forms in non-unicode mode).
"""

from __future__ import annotations

import re
from array import array

Intervals = list[tuple[int, int]]


class JsRegexSyntaxError(ValueError):
    """JavaScript itself would throw a SyntaxError for this pattern."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid regular expression: {detail}")
        self.detail = detail

    def v8_message(self, source: str) -> str:
        """V8's text, which names the pattern: `Invalid regular expression: /(x/: …`."""
        return f"Invalid regular expression: /{source}/: {self.detail}"


class JsRegexUnsupported(ValueError):
    """Valid JavaScript that this translator cannot run with the same results."""


DIGIT: Intervals = [(0x30, 0x39)]
WORD: Intervals = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
# ECMAScript WhiteSpace + LineTerminator: what `\s` and `String.prototype.trim` use.
SPACE: Intervals = [(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680)]
SPACE += [(0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F)]
SPACE += [(0x3000, 0x3000), (0xFEFF, 0xFEFF)]
LINE_TERMINATORS: Intervals = [(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)]
SYNTAX_CHARACTERS = frozenset("^$\\.*+?()[]{}|/")
CONTROL_ESCAPES = {"f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
MAX_COUNT = 100_000
ASCII_DIGITS = "0123456789"
BRACED = re.compile(r"\{([0-9]+)(?:(,)([0-9]*))?\}")
DIGITS = re.compile("[0-9]+")
CODE_POINT = re.compile(r"\{([0-9a-fA-F]+)\}")


def utf16_units(text: str) -> str:
    """The text with each UTF-16 code unit as one character (astral characters become pairs)."""
    if all(ord(ch) < 0x10000 for ch in text):
        return text
    units = array("H", text.encode("utf-16-le", "surrogatepass"))
    return "".join(map(chr, units))


def normalize(intervals: Intervals) -> Intervals:
    merged: Intervals = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def complement(intervals: Intervals, top: int) -> Intervals:
    result: Intervals = []
    start = 0
    for lo, hi in normalize(intervals):
        if lo > start:
            result.append((start, lo - 1))
        start = hi + 1
    if start <= top:
        result.append((start, top))
    return result


def char_literal(cp: int) -> str:
    if cp < 0x80 and chr(cp).isalnum():
        return chr(cp)
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def emit_set(intervals: Intervals, top: int) -> str:
    merged = normalize(intervals)
    if not merged:
        return "(?!)"
    if merged == [(0, top)]:
        return "(?s:.)"
    parts = [
        char_literal(lo) if lo == hi else f"{char_literal(lo)}-{char_literal(hi)}"
        for lo, hi in merged
    ]
    return "[" + "".join(parts) + "]"


def is_name_char(ch: str, first: bool) -> bool:
    if ch in "$_":
        return True
    if not first and ch in "\u200c\u200d":
        return True
    return ("a" + ch).isidentifier() if not first else ch.isidentifier()


def prescan(src: str) -> tuple[int, dict[str, int]]:
    """Count capturing groups and map group names to numbers, as JS does before parsing."""
    names: dict[str, int] = {}
    count, i, in_class = 0, 0, False
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            if src.startswith("?<", i + 1) and src[i + 3 : i + 4] not in ("=", "!"):
                count += 1
                end = src.find(">", i + 3)
                if end != -1:
                    names.setdefault(src[i + 3 : end], count)
            elif src[i + 1 : i + 2] != "?":
                count += 1
        i += 1
    return count, names


def as_intervals(item: int | Intervals) -> Intervals:
    return item if isinstance(item, list) else [(item, item)]


class Cursor:
    """A position in a pattern, and the reading of one escape or one class at that position."""

    def __init__(self, source: str, unicode: bool) -> None:
        self.src = source if unicode else utf16_units(source)
        self.u = unicode
        self.top = 0x10FFFF if unicode else 0xFFFF
        self.pos = 0
        self.total, self.names = prescan(self.src)
        self.named = bool(self.names)

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.src[i] if i < len(self.src) else ""

    def fail(self, message: str) -> JsRegexSyntaxError:
        return JsRegexSyntaxError(message)

    def take_hex(self, count: int) -> int | None:
        digits = self.src[self.pos : self.pos + count]
        if len(digits) == count and all(c in "0123456789abcdefABCDEF" for c in digits):
            self.pos += count
            return int(digits, 16)
        return None

    def class_or_char_escape(self, in_class: bool) -> int | Intervals:
        """After a backslash: a shorthand class (intervals) or one character (its code)."""
        ch = self.peek()
        self.pos += 1
        shorthand = {"d": DIGIT, "w": WORD, "s": SPACE}
        if ch.lower() in shorthand:
            base = shorthand[ch.lower()]
            return list(base) if ch.islower() else complement(base, self.top)
        if ch in CONTROL_ESCAPES:
            return CONTROL_ESCAPES[ch]
        if in_class and ch == "b":
            return 0x08
        if ch == "c":
            return self.control_letter(in_class)
        if ch == "0" and self.peek() not in tuple(ASCII_DIGITS):
            return 0
        if ch in tuple(ASCII_DIGITS):
            if self.u:
                raise self.fail("Invalid class escape" if in_class else "Invalid decimal escape")
            return ord(ch) if ch in "89" else self.legacy_octal(ch)
        if ch == "x":
            value = self.take_hex(2)
            if value is not None:
                return value
        elif ch == "u":
            value = self.unicode_escape()
            if value is not None:
                return value
        elif ch in "pP" and self.u:
            raise JsRegexUnsupported("Unicode property escapes (\\p{…})")
        elif ch == "k" and in_class and self.named and not self.u:
            raise self.fail("Invalid escape")
        if self.u and ch not in SYNTAX_CHARACTERS and not (in_class and ch == "-"):
            raise self.fail("Invalid escape")
        return ord(ch)

    def control_letter(self, in_class: bool) -> int:
        letter = self.peek()
        extra = ASCII_DIGITS + "_" if in_class and not self.u else ""
        if letter and letter.isascii() and (letter.isalpha() or letter in tuple(extra)):
            self.pos += 1
            return ord(letter) % 32
        if self.u:
            raise self.fail("Invalid unicode escape")
        self.pos -= 1  # Annex B: the backslash stands for itself and `c` is read next
        return ord("\\")

    def legacy_octal(self, first: str) -> int:
        digits = first
        while len(digits) < 3 and self.peek() in tuple("01234567") and self.peek():
            if len(digits) == 2 and digits[0] not in "0123":
                break
            digits += self.peek()
            self.pos += 1
        return int(digits, 8)

    def unicode_escape(self) -> int | None:
        if self.u and self.peek() == "{":
            m = CODE_POINT.match(self.src, self.pos)
            if m is None or int(m.group(1), 16) > 0x10FFFF:
                raise self.fail("Invalid Unicode escape")
            self.pos = m.end()
            return int(m.group(1), 16)
        value = self.take_hex(4)
        if value is None:
            if self.u:
                raise self.fail("Invalid Unicode escape")
            return None
        if self.u and 0xD800 <= value <= 0xDBFF and self.src.startswith("\\u", self.pos):
            saved = self.pos
            self.pos += 2
            low = self.take_hex(4)
            if low is not None and 0xDC00 <= low <= 0xDFFF:
                return 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            self.pos = saved
        return value

    def char_class(self) -> str:
        self.pos += 1
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        items: Intervals = []
        while True:
            ch = self.peek()
            if ch == "":
                raise self.fail("Unterminated character class")
            if ch == "]":
                self.pos += 1
                break
            first = self.class_atom()
            if self.peek() == "-" and self.peek(1) not in ("", "]"):
                self.pos += 1
                second = self.class_atom()
                if isinstance(first, list) or isinstance(second, list):
                    if self.u:
                        raise self.fail("Invalid character class")
                    items += [*as_intervals(first), (0x2D, 0x2D), *as_intervals(second)]
                elif first > second:
                    raise self.fail("Range out of order in character class")
                else:
                    items.append((first, second))
            else:
                items += as_intervals(first)
        return emit_set(complement(items, self.top) if negate else items, self.top)

    def class_atom(self) -> int | Intervals:
        ch = self.peek()
        if ch != "\\":
            self.pos += 1
            return ord(ch)
        self.pos += 1
        if self.peek() == "":
            raise self.fail("\\ at end of pattern")
        return self.class_or_char_escape(in_class=True)
