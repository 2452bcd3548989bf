"""promptfoo 0.123's `extractJsonObjects` (src/util/json.ts), used by contains-json.

From each `{`, braces are counted (strings are not looked at); when they balance — or the text or
the 100000-character window ends, the missing `}` then appended — the candidate has its `//`
comments turned into `#` (`convertSlashCommentsToHash`) and is loaded as YAML (js-yaml,
`json: true`). An object is kept and the scan resumes after it; a balanced candidate that does not
load gives up on that `{`.

The YAML load is JSON first, then a YAML flow-mapping reader for the shapes prose produces
(`{a: 1}`, `{'a': 1}`, `{love}`, `{1}`, `# comments`). A candidate it cannot be sure about raises
`ExtractUnsupported` instead of guessing whether js-yaml would accept it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from assertions.jsvalues import js_number, parse_json

MAX_CANDIDATE = 100_000
_LETTER = re.compile(r"[a-zA-Z]")
_JS_SPACE = re.compile(r"[\t-\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]")


class ExtractUnsupported(ValueError):
    """A candidate whose YAML reading this module cannot decide."""


def _convert_line(line: str) -> str:
    state, i = "normal", 0
    out: list[str] = []
    while i < len(line):
        ch = line[i]
        # JS reads line[i + 1] past the end as undefined, which /[a-zA-Z]/ matches ("undefined").
        nxt = line[i + 1] if i + 1 < len(line) else "undefined"
        prev = line[i - 1] if i > 0 else ""
        if state == "normal":
            if ch == "'" and not _LETTER.search(prev):
                state = "single"
            elif ch == '"':
                state = "double"
            elif ch == "/" and nxt == "/":
                start = 0
                for j in range(i - 1, -1, -1):
                    if _JS_SPACE.match(line[j]):
                        start = j + 1
                        break
                if "://" not in line[start : i + 2]:
                    count = 2
                    while i + count < len(line) and line[i + count] == "/":
                        count += 1
                    return "".join(out) + "#" * (count // 2) + line[i + count :]
            out.append(ch)
        elif state == "single":
            out.append(ch)
            if ch == "'" and prev != "\\" and not _LETTER.search(nxt):
                state = "normal"
        else:
            out.append(ch)
            if ch == '"' and prev != "\\":
                state = "normal"
        i += 1
    return "".join(out)


def convert_slash_comments_to_hash(text: str) -> str:
    return "\n".join(_convert_line(line) for line in text.split("\n"))


_NOT_OBJECT = object()


class _FlowReader:
    """js-yaml's reading of one flow mapping document, for a conservative subset."""

    def __init__(self, text: str) -> None:
        self.s, self.pos = text, 0

    def peek(self) -> str:
        return self.s[self.pos : self.pos + 1]

    def space(self) -> None:
        while self.pos < len(self.s):
            ch = self.s[self.pos]
            if ch in " \n":
                self.pos += 1
            elif ch == "#" and (self.pos == 0 or self.s[self.pos - 1] in " \n"):
                end = self.s.find("\n", self.pos)
                self.pos = len(self.s) if end == -1 else end
            elif ch in "\t\r":
                raise ExtractUnsupported("tabs or carriage returns")
            else:
                return

    def document(self) -> Any:
        value = self.mapping()
        self.space()
        if self.pos != len(self.s):
            return _NOT_OBJECT  # text after the mapping: js-yaml throws
        return value

    def collection(self, close: str, entry: Any) -> bool:
        """Reads entries up to `close`; False when js-yaml would throw."""
        self.pos += 1
        while True:
            self.space()
            ch = self.peek()
            if ch == "":
                return False
            if ch == close:
                self.pos += 1
                return True
            if ch == ",":
                raise ExtractUnsupported("empty flow entry")
            if not entry():
                return False
            self.space()
            ch = self.peek()
            if ch == ",":
                self.pos += 1
            elif ch != close:
                return False if ch in "]}" or ch == "" else self._unsure()

    def _unsure(self) -> bool:
        raise ExtractUnsupported(f"flow collection near {self.s[self.pos : self.pos + 20]!r}")

    def mapping(self) -> Any:
        out: dict[str, Any] = {}

        def entry() -> bool:
            quoted = self.peek() in ("'", '"')
            key = self.node(in_key=True)
            if key is _NOT_OBJECT:
                return False
            self.space()
            value: Any = None
            if self.peek() == ":":
                after = self.s[self.pos + 1 : self.pos + 2]
                if not quoted and after not in ("", " ", "\n", ",", "]", "}"):
                    return self._unsure()
                self.pos += 1
                self.space()
                if self.peek() not in (",", "}"):
                    value = self.node(in_key=False)
                    if value is _NOT_OBJECT:
                        return False
            out[_key(key)] = value
            return True

        return out if self.collection("}", entry) else _NOT_OBJECT

    def sequence(self) -> Any:
        out: list[Any] = []

        def entry() -> bool:
            value = self.node(in_key=False)
            if value is _NOT_OBJECT:
                return False
            self.space()
            if self.peek() == ":":
                raise ExtractUnsupported("single-pair mapping in a flow sequence")
            out.append(value)
            return True

        return out if self.collection("]", entry) else _NOT_OBJECT

    def node(self, in_key: bool) -> Any:
        ch = self.peek()
        if ch == "{":
            if in_key:
                raise ExtractUnsupported("a collection as a mapping key")
            return self.mapping()
        if ch == "[":
            if in_key:
                raise ExtractUnsupported("a collection as a mapping key")
            return self.sequence()
        if ch == '"':
            return self.double_quoted()
        if ch == "'":
            return self.single_quoted()
        return self.plain()

    def double_quoted(self) -> Any:
        m = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL).match(self.s, self.pos)
        if m is None:
            return _NOT_OBJECT  # unterminated: js-yaml throws
        token = m.group()
        if "\n" in token:
            raise ExtractUnsupported("multi-line double-quoted scalar")
        try:
            value = json.loads(token)
        except ValueError as exc:
            raise ExtractUnsupported(f"double-quoted scalar {token}") from exc
        self.pos = m.end()
        return value

    def single_quoted(self) -> Any:
        m = re.compile(r"'(?:[^']|'')*'").match(self.s, self.pos)
        if m is None:
            return _NOT_OBJECT
        if "\n" in m.group():
            raise ExtractUnsupported("multi-line single-quoted scalar")
        self.pos = m.end()
        return m.group()[1:-1].replace("''", "'")

    def plain(self) -> Any:
        start = self.pos
        ch = self.peek()
        after = self.s[self.pos + 1 : self.pos + 2]
        if ch in "#&*!|>%@`" or (ch in "-?:" and after in ("", " ", "\n", ",", "[", "]", "{", "}")):
            raise ExtractUnsupported(f"plain scalar starting with {ch!r}")
        while self.pos < len(self.s):
            ch = self.s[self.pos]
            nxt = self.s[self.pos + 1 : self.pos + 2]
            if ch in ",[]{}\n":
                break
            if ch == ":" and nxt in ("", " ", "\n", ",", "[", "]", "{", "}"):
                break
            if ch == "#" and self.s[self.pos - 1] == " ":
                break
            if ch in "\t\r":
                raise ExtractUnsupported("tabs or carriage returns")
            self.pos += 1
        text = self.s[start : self.pos].rstrip(" ")
        rest = self.s[self.pos :]
        if self.peek() == "\n" and rest.strip(" \n")[:1] not in (",", "]", "}", ":", "#", ""):
            raise ExtractUnsupported("multi-line plain scalar")
        return _resolve(text)


_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")


def _resolve(text: str) -> Any:
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if re.match(r"[-+]?\.?[0-9]|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)\Z|<<\Z", text):
        raise ExtractUnsupported(f"plain scalar {text!r} (number form, date or merge key)")
    return text


def _key(key: Any) -> str:
    """A JS object key: String(key)."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return js_number(key)
    raise ExtractUnsupported("a collection as a mapping key")


def load_candidate(text: str) -> dict[str, Any] | None:
    """`yaml.load(convertSlashCommentsToHash(text), {json: true})` when it is a non-null object,
    else None (not an object, or js-yaml throws)."""
    processed = convert_slash_comments_to_hash(text)
    try:
        value = parse_json(processed)
    except ValueError:
        value = _FlowReader(processed).document()
        if value is _NOT_OBJECT:
            return None
    return value if isinstance(value, dict) else None


def extract_json_objects(text: str) -> list[Any]:
    found: list[Any] = []
    n = len(text)
    i = 0
    while i < n:
        if text[i] != "{":
            i += 1
            continue
        resume = i + 1
        opened, closed, j = 1, 0, i + 1
        limit = min(i + MAX_CANDIDATE, n)
        while j < limit and opened > closed:
            if text[j] == "{":
                opened += 1
            elif text[j] == "}":
                closed += 1
            j += 1
            if opened == closed or j == n or j == i + MAX_CANDIDATE:
                candidate = text[i:j] + "}" * (opened - closed)
                value = load_candidate(candidate)
                if value is not None:
                    found.append(value)
                    resume = j
                    break
                if opened == closed:
                    break
        i = resume
    return found
