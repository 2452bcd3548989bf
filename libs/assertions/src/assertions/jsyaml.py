"""The one YAML reader: js-yaml's `load` (YAML 1.2, promptfoo's reader) on ruamel.yaml's parser.

ruamel.yaml (pure Python, safe) turns the text into events; values are built here with js-yaml's
default schema: plain scalars resolve as its null, bool, int (`0777` is 777, `0o777` is 511) and
float types do, so `yes`, `on` and `12:30` stay strings; quoted and block scalars are strings;
`<<` merges mappings; a mapping key becomes `String(key)`; a duplicated key throws (or, with
`json=True` as in promptfoo's JSON extraction, the last one wins); more than one document throws.

Hostile input is refused before it costs anything: a document over `YAML_MAX_CHARS`, a value that
expands (aliases counted each time they are used) to more than `YAML_MAX_NODES` nodes or more than
`YAML_MAX_CHARS` characters of scalars (so what is read is no larger than a document without
aliases could be), nesting deeper than `YAML_MAX_DEPTH`. Timestamps (js-yaml makes a `Date`) are kept as written or refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)

from assertions.jsvalues import js_number

YAML_MAX_CHARS = 1_000_000
YAML_MAX_NODES = 100_000
YAML_MAX_DEPTH = 200

_TAG = "tag:yaml.org,2002:"
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0b[01]+|0x[0-9a-fA-F]+|0o[0-7]+|[0-9]+)")
_FLOAT = re.compile(
    r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
)
_JS_SAFE_INTEGER = 2**53


class YamlError(ValueError):
    """The text is not YAML as js-yaml reads it: js-yaml's `load` throws."""


class YamlUnsupported(ValueError):
    """YAML that js-yaml reads but this reader refuses (timestamps, other tags, collection keys)."""


class YamlTooLarge(ValueError):
    """The document passes one of the limits; the message names the limit."""


class YamlDocumentTooLarge(YamlTooLarge):
    """More characters than `YAML_MAX_CHARS`."""


class YamlExpansionTooLarge(YamlTooLarge):
    """More nodes (aliases expanded) than `YAML_MAX_NODES`, or deeper than `YAML_MAX_DEPTH`."""


def resolve_plain(text: str, *, timestamps: Literal["keep", "refuse"] = "refuse") -> Any:
    """A plain scalar as js-yaml's default schema resolves it."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return _integer(text)
    if _FLOAT.fullmatch(text):
        return _float(text)
    if _TIMESTAMP.fullmatch(text) and timestamps == "refuse":
        raise YamlUnsupported(f"timestamp {text!r} (js-yaml reads a Date)")
    return text


def _integer(text: str) -> int | float:
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-")
    base = {"0b": 2, "0x": 16, "0o": 8}.get(digits[:2], 10)
    value = sign * int(digits[2:] if base != 10 else digits, base)
    # JS numbers are doubles: beyond 2**53 js-yaml's parseInt already rounds.
    return float(value) if abs(value) > _JS_SAFE_INTEGER else value


def _float(text: str) -> float:
    lowered = text.lower()
    sign = -1.0 if lowered[0] == "-" else 1.0
    body = lowered.lstrip("+-")
    if body == ".inf":
        return sign * float("inf")
    if body == ".nan":
        return float("nan")
    return sign * float(body)


def _key(value: Any) -> str:
    """JavaScript's `String(key)` for a scalar key."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value)
    raise YamlUnsupported("a mapping or sequence as a mapping key")


@dataclass
class _Frame:
    """An open mapping or sequence, with where the node count stood when it opened."""

    value: dict[str, Any] | list[Any]
    anchor: str | None
    count_at_start: int
    chars_at_start: int
    key: Any = None
    has_key: bool = False
    key_is_merge: bool = False
    overridable: set[str] = field(default_factory=set)


class _Builder:
    def __init__(self, *, json: bool, timestamps: Literal["keep", "refuse"]) -> None:
        self.json, self.timestamps = json, timestamps
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # value, nodes, characters
        self.count = 0
        self.chars = 0
        self.documents = 0
        self.result: Any = None

    def spend(self, nodes: int, chars: int = 0) -> None:
        self.count += nodes
        self.chars += chars
        if self.count > YAML_MAX_NODES:
            raise YamlExpansionTooLarge(
                f"the YAML expands to more than {YAML_MAX_NODES} nodes "
                f"(aliases counted each time they are used); the limit is {YAML_MAX_NODES}"
            )
        if self.chars > YAML_MAX_CHARS:
            raise YamlExpansionTooLarge(
                f"the YAML expands to more than {YAML_MAX_CHARS} characters "
                f"(aliases counted each time they are used); the limit is {YAML_MAX_CHARS}"
            )

    def feed(self, event: Event) -> None:
        if isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise YamlError("expected a single document in the stream, but found more")
        elif isinstance(event, AliasEvent):
            if event.anchor not in self.anchors:
                raise YamlError(f'unidentified alias "{event.anchor}"')
            value, nodes, chars = self.anchors[event.anchor]
            self.spend(nodes, chars)
            self.place(value, merge_key=False)
        elif isinstance(event, ScalarEvent):
            self.spend(1, len(event.value))
            plain = event.style is None and event.implicit[0]
            value = self.scalar(event)
            self.remember(event, value, 1, len(event.value))
            self.place(value, merge_key=plain and event.value == "<<")
        elif isinstance(event, CollectionStartEvent):
            self.open(event)
        elif isinstance(event, CollectionEndEvent):
            frame = self.stack.pop()
            if frame.anchor is not None:
                nodes, chars = self.count - frame.count_at_start, self.chars - frame.chars_at_start
                self.anchors[frame.anchor] = (frame.value, nodes, chars)
            self.place(frame.value, merge_key=False)

    def open(self, event: CollectionStartEvent) -> None:
        self.spend(1)
        if len(self.stack) >= YAML_MAX_DEPTH:
            raise YamlExpansionTooLarge(
                f"the YAML nests deeper than {YAML_MAX_DEPTH} levels; the limit is {YAML_MAX_DEPTH}"
            )
        mapping = isinstance(event, MappingStartEvent)
        self.check_tag(event, "map" if mapping else "seq")
        container: dict[str, Any] | list[Any] = {} if mapping else []
        self.stack.append(_Frame(container, event.anchor, self.count - 1, self.chars))

    def check_tag(self, event: NodeEvent, kind: str) -> None:
        tag = getattr(event, "tag", None)
        if tag is not None and str(tag) not in (_TAG + kind, "!"):
            raise YamlUnsupported(f"the tag {tag} on a {'mapping' if kind == 'map' else kind}")

    def scalar(self, event: ScalarEvent) -> Any:
        tag = None if event.tag is None else str(event.tag)
        if tag is None:
            if event.style is None and event.implicit[0]:
                return resolve_plain(event.value, timestamps=self.timestamps)
            return event.value
        if tag in ("!", _TAG + "str"):
            return event.value
        kinds = {"null": _NULL, "bool": _BOOL, "int": _INT, "float": _FLOAT}
        kind = tag.removeprefix(_TAG)
        if tag.startswith(_TAG) and kind in kinds:
            value = resolve_plain(event.value, timestamps=self.timestamps)
            expected = {"null": type(None), "bool": bool, "int": int, "float": float}[kind]
            if kind == "float" and type(value) is int:
                return float(value)
            if type(value) is expected or (kind == "int" and type(value) is float):
                return value
            raise YamlError(f"cannot resolve a node with !<{tag}> explicit tag")
        raise YamlUnsupported(f"the tag {tag}")

    def remember(self, event: NodeEvent, value: Any, nodes: int, chars: int) -> None:
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, nodes, chars)

    def place(self, value: Any, *, merge_key: bool) -> None:
        if not self.stack:
            self.result = value
            return
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            frame.value.append(value)
        elif not frame.has_key:
            frame.key, frame.has_key, frame.key_is_merge = value, True, merge_key
        else:
            frame.has_key = False
            if frame.key_is_merge:
                self.merge(frame, value)
            else:
                self.store(frame, _key(frame.key), value)

    def store(self, frame: _Frame, key: str, value: Any) -> None:
        assert isinstance(frame.value, dict)
        if not self.json and key in frame.value and key not in frame.overridable:
            raise YamlError(f"duplicated mapping key {key!r}")
        frame.value[key] = value
        frame.overridable.discard(key)

    def merge(self, frame: _Frame, source: Any) -> None:
        assert isinstance(frame.value, dict)
        sources = source if isinstance(source, list) else [source]
        for mapping in sources:
            if not isinstance(mapping, dict):
                raise YamlError("cannot merge mappings; the provided source object is unacceptable")
            for key, value in mapping.items():
                if key not in frame.value:
                    frame.value[key] = value
                    frame.overridable.add(key)


def load_yaml(
    text: str, *, json: bool = False, timestamps: Literal["keep", "refuse"] = "refuse"
) -> Any:
    """js-yaml's `load(text, {json})`: the one document's value, None for an empty stream.

    Raises `YamlError` where js-yaml throws, `YamlUnsupported` for what is refused here, and
    `YamlTooLarge` (naming the limit) past `YAML_MAX_CHARS`, `YAML_MAX_NODES` or `YAML_MAX_DEPTH`.
    """
    if len(text) > YAML_MAX_CHARS:
        raise YamlDocumentTooLarge(
            f"the YAML document has {len(text)} characters; the limit is {YAML_MAX_CHARS}"
        )
    builder = _Builder(json=json, timestamps=timestamps)
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            builder.feed(event)
    except YAMLError as exc:
        raise YamlError(_describe(exc)) from None
    return builder.result


def _describe(exc: YAMLError) -> str:
    """ruamel's message on one line: the problem, what it was reading, and where."""
    if not isinstance(exc, MarkedYAMLError):
        return str(exc).split("\n")[0]
    parts = [exc.problem or "invalid YAML"]
    if exc.context:
        parts.append(exc.context)
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(parts[:1]) + (f" ({parts[1]})" if len(parts) > 1 else "") + where
