"""A conservative YAML subset for schemas given as YAML strings (promptfoo runs `yaml.load` from
js-yaml on them); contracts depends on pydantic only, so this is not a YAML library.

Understood: block mappings and block sequences nested by indentation (spaces), one-line flow
sequences `[a, b]` and flow mappings `{k: v}`, plain scalars resolved as js-yaml's core schema
does for null, booleans, decimal integers and simple floats, single- and double-quoted scalars
(double-quoted with JSON's escapes), whole-line `#` comments. Anything else — anchors, tags, block
scalars, multi-line scalars, inline comments, dates, other number forms, duplicate keys,
documents markers — raises `YamlUnsupported` rather than risk a different reading.
"""

from __future__ import annotations

import json
import re
from typing import Any


class YamlUnsupported(ValueError):
    """The text is outside the YAML subset read here."""


_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")
_NUMBERISH = re.compile(r"[-+]?\.?[0-9]|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)\Z")
_KEY = re.compile(
    r"""("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'#:\-?\[\]{},&*!|>%@`][^:#,\[\]{}]*?)\s*:(?:\s+|\Z)"""
)
_PLAIN_START = re.compile(r"""[^\s"'#\[\]{},&*!|>%@`?:\-]|[?:\-](?=\S)""")


def _scalar(text: str) -> Any:
    """A plain scalar, resolved as js-yaml's default schema would, or refused."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if _NUMBERISH.match(text) or text.startswith("<<"):
        raise YamlUnsupported(f"plain scalar {text!r} (number form, date or merge key)")
    if not _PLAIN_START.match(text) or ": " in text or " #" in text or text.endswith(":"):
        raise YamlUnsupported(f"plain scalar {text!r}")
    return text


def _quoted(token: str) -> str:
    if token.startswith('"'):
        try:
            value = json.loads(token)
        except ValueError as exc:
            raise YamlUnsupported(f"double-quoted scalar {token}") from exc
        if not isinstance(value, str):
            raise YamlUnsupported(f"double-quoted scalar {token}")
        return value
    return token[1:-1].replace("''", "'")


class _Flow:
    """One-line flow collections: `[a, b]`, `{k: v}`, nested, with quoted or plain scalars."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def node(self) -> Any:
        self.skip()
        ch = self.text[self.pos : self.pos + 1]
        if ch == "[":
            return self.sequence()
        if ch == "{":
            return self.mapping()
        m = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^']|'')*'""").match(self.text, self.pos)
        if m:
            self.pos = m.end()
            return _quoted(m.group())
        m = re.compile(r"[^,\[\]{}]*").match(self.text, self.pos)
        assert m is not None
        self.pos = m.end()
        plain = m.group().strip()
        if ":" in plain or "#" in plain:
            raise YamlUnsupported(f"flow scalar {plain!r}")
        return _scalar(plain)

    def expect(self, ch: str) -> None:
        self.skip()
        if self.text[self.pos : self.pos + 1] != ch:
            raise YamlUnsupported(f"expected {ch!r} in flow collection {self.text!r}")
        self.pos += 1

    def items(self, close: str, item: Any) -> None:
        self.pos += 1
        self.skip()
        if self.text[self.pos : self.pos + 1] == close:
            self.pos += 1
            return
        while True:
            item()
            self.skip()
            if self.text[self.pos : self.pos + 1] == close:
                self.pos += 1
                return
            self.expect(",")

    def sequence(self) -> list[Any]:
        out: list[Any] = []
        self.items("]", lambda: out.append(self.node()))
        return out

    def mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {}

        def entry() -> None:
            self.skip()
            m = _KEY.match(self.text, self.pos)
            if m is None:
                raise YamlUnsupported(f"flow mapping entry in {self.text!r}")
            key = _key(m.group(1))
            self.pos = m.end()
            if key in out:
                raise YamlUnsupported(f"duplicated mapping key {key!r}")
            out[key] = self.node()

        self.items("}", entry)
        return out


def _key(token: str) -> str:
    token = token.strip()
    if token[:1] in ('"', "'"):
        return _quoted(token)
    value = _scalar(token)
    if not isinstance(value, str):
        raise YamlUnsupported(f"non-string mapping key {token!r}")
    return value


def _inline(text: str) -> Any:
    text = text.strip()
    if text[:1] in ("[", "{"):
        flow = _Flow(text)
        value = flow.node()
        flow.skip()
        if flow.pos != len(text):
            raise YamlUnsupported(f"text after a flow collection: {text!r}")
        return value
    if text[:1] in ('"', "'"):
        m = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^']|'')*'""").fullmatch(text)
        if m is None:
            raise YamlUnsupported(f"quoted scalar {text!r}")
        return _quoted(text)
    return _scalar(text)


class _Block:
    def __init__(self, text: str) -> None:
        if "\t" in text or "\r" in text:
            raise YamlUnsupported("tabs or carriage returns")
        self.lines: list[tuple[int, str]] = []
        for raw in text.split("\n"):
            content = raw.strip(" ")
            if not content or content.startswith("#"):
                continue
            if content.startswith(("---", "...", "%")):
                raise YamlUnsupported("document markers and directives")
            self.lines.append((len(raw) - len(raw.lstrip(" ")), content))
        self.i = 0

    def node(self, indent: int) -> Any:
        if self.i >= len(self.lines):
            return None
        own, content = self.lines[self.i]
        if own < indent:
            return None
        if content == "-" or content.startswith("- "):
            return self.sequence(own)
        if _KEY.match(content):
            return self.mapping(own)
        self.i += 1
        value = _inline(content)
        self.no_continuation(own)
        return value

    def no_continuation(self, indent: int) -> None:
        if self.i < len(self.lines) and self.lines[self.i][0] > indent:
            raise YamlUnsupported("multi-line scalars or misplaced indentation")

    def value_after(self, rest: str, indent: int, in_mapping: bool) -> Any:
        if rest:
            value = _inline(rest)
            self.no_continuation(indent)
            return value
        if self.i < len(self.lines):
            own, content = self.lines[self.i]
            if own > indent:
                return self.node(own)
            if in_mapping and own == indent and (content == "-" or content.startswith("- ")):
                return self.sequence(own)
        return None

    def sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while self.i < len(self.lines):
            own, content = self.lines[self.i]
            if own != indent or not (content == "-" or content.startswith("- ")):
                break
            rest = content[1:].strip(" ")
            if _KEY.match(rest) or rest.startswith("- "):
                raise YamlUnsupported("compact nested collections in a sequence entry")
            self.i += 1
            out.append(self.value_after(rest, indent, in_mapping=False))
        return out

    def mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.i < len(self.lines):
            own, content = self.lines[self.i]
            if own != indent:
                break
            m = _KEY.match(content)
            if m is None:
                raise YamlUnsupported(f"mapping entry {content!r}")
            key = _key(m.group(1))
            if key in out:
                raise YamlUnsupported(f"duplicated mapping key {key!r}")
            self.i += 1
            out[key] = self.value_after(content[m.end() :], indent, in_mapping=True)
        return out


def load_yaml(text: str) -> Any:
    """`yaml.load(text)` for the subset above; raises `YamlUnsupported` outside it."""
    block = _Block(text)
    value = block.node(0)
    if block.i != len(block.lines):
        raise YamlUnsupported("indentation this reader does not follow")
    return value
