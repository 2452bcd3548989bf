"""promptfoo 0.123's `extractJsonObjects` (src/util/json.ts), used by contains-json.

From each `{`, braces are counted (strings are not looked at); when they balance — or the text or
the 100000-character window ends, the missing `}` then appended — the candidate has its `//`
comments turned into `#` (`convertSlashCommentsToHash`) and is loaded as YAML (js-yaml,
`json: true`). An object is kept and the scan resumes after it; a balanced candidate that does not
load gives up on that `{`.

The YAML load is JSON first, then the YAML reader (`jsyaml`) for the shapes prose produces
(`{a: 1}`, `{'a': 1}`, `{love}`, `{1}`, `# comments`). A candidate that reader refuses (a
timestamp, a tag, a limit) raises `ExtractUnsupported` instead of guessing.
"""

from __future__ import annotations

import re
from typing import Any

from assertions.jsvalues import parse_json
from assertions.jsyaml import YamlError, YamlTooLarge, YamlUnsupported, load_yaml

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


def load_candidate(text: str) -> dict[str, Any] | None:
    """`yaml.load(convertSlashCommentsToHash(text), {json: true})` when it is a non-null object,
    else None (not an object, or js-yaml throws)."""
    processed = convert_slash_comments_to_hash(text)
    try:
        value = parse_json(processed)
    except ValueError:
        try:
            value = load_yaml(processed, json=True)
        except YamlError:
            return None
        except (YamlUnsupported, YamlTooLarge) as exc:
            raise ExtractUnsupported(str(exc)) from exc
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
