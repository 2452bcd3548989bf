"""The Nunjucks subset promptfoo applies to assertion values and metric names: `{{ path }}`.

A path is a variable name followed by `.name`, `.0`, `[0]` or `["key"]` steps into dicts and lists;
`{{-` and `-}}` trim whitespace on that side. Missing variables render as "" (Nunjucks with
`throwOnUndefined` off), other values as JS `String()` does. Tags `{% %}`, comments `{# #}`,
filters, literals and operators are not implemented: such text raises `UnsupportedTemplate`
rather than being compared literally where promptfoo would have interpreted it.

`prepare_vars` rewrites the vars first, as promptfoo's `renderPrompt` does before the assertions
see them: one trailing newline stripped, `{{ name }}` inside a var resolved (`resolveVariables`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.assertions.jsregex_chars import SPACE
from contracts.assertions.jsvalues import js_string


class UnsupportedTemplate(ValueError):
    """The text uses Nunjucks syntax beyond `{{ path }}`."""


_NAME = r"[A-Za-z_$][A-Za-z0-9_$]*"
_STEP = rf"\.{_NAME}|\.[0-9]+|\[[0-9]+\]|\[\"[^\"\\]*\"\]|\['[^'\\]*'\]"
_PATH = re.compile(rf"({_NAME})((?:{_STEP})*)")
_STEPS = re.compile(rf"\.({_NAME})|\.([0-9]+)|\[([0-9]+)\]|\[\"([^\"\\]*)\"\]|\['([^'\\]*)'\]")
_KEYWORDS = frozenset({"true", "false", "none", "null", "and", "or", "not", "in", "is", "if"})
_WHITESPACE = " \t\n\r\f\v"


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for m in _STEPS.finditer(path):
        name, dotted_index, index, double, single = m.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(g for g in (name, dotted_index, double, single) if g is not None))
    return steps


def _lookup(vars: Mapping[str, Any], expression: str) -> Any:
    m = _PATH.fullmatch(expression)
    if m is None or m.group(1) in _KEYWORDS:
        raise UnsupportedTemplate(f"unsupported template expression {{{{ {expression} }}}}")
    value: Any = vars.get(m.group(1))
    for step in _steps(m.group(2)):
        if isinstance(value, dict):
            value = value.get(str(step)) if isinstance(step, int) else value.get(step)
        elif isinstance(value, list) and (isinstance(step, int) or step.isdigit()):
            i = int(step)
            value = value[i] if i < len(value) else None
        else:
            value = None
    return value


def check_template(text: str) -> None:
    """Raise `UnsupportedTemplate` if `render` would refuse this text."""
    render(text, {})


def render(text: str, vars: Mapping[str, Any]) -> str:
    if "{%" in text or "{#" in text:
        raise UnsupportedTemplate("Nunjucks tags ({% %}) and comments ({# #}) are not supported")
    out: list[str] = []
    pos = 0
    while (start := text.find("{{", pos)) != -1:
        end = text.find("}}", start + 2)
        if end == -1:
            raise UnsupportedTemplate("unclosed {{ in template")
        inner = text[start + 2 : end]
        literal = text[pos:start]
        if inner.startswith("-"):
            literal, inner = literal.rstrip(_WHITESPACE), inner[1:]
        trim_after = inner.endswith("-")
        if trim_after:
            inner = inner[:-1]
        out.append(literal)
        value = _lookup(vars, inner.strip(_WHITESPACE))
        out.append("" if value is None else js_string(value))
        pos = end + 2
        if trim_after:
            while pos < len(text) and text[pos] in _WHITESPACE:
                pos += 1
    out.append(text[pos:])
    return "".join(out)


_JS_SPACE = "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in SPACE)
_PLACEHOLDER = re.compile(rf"\{{\{{[{_JS_SPACE}]*(\w+)[{_JS_SPACE}]*\}}\}}", re.ASCII)
_REPLACEMENT_PATTERN = re.compile(r"\$([$&`'])")
_MAX_INDEX = 2**32 - 2


def _js_key_order(keys: list[str]) -> list[str]:
    """`Object.keys` order: array-index keys ascending first, then the rest as inserted."""
    indices = [k for k in keys if k.isascii() and k.isdigit() and str(int(k)) == k]
    indices = [k for k in indices if int(k) <= _MAX_INDEX]
    rest = [k for k in keys if k not in set(indices)]
    return sorted(indices, key=int) + rest


def _js_replace_first(text: str, placeholder: str, replacement: str) -> str:
    """`text.replace(placeholder, replacement)` with a string pattern: the first occurrence, and
    `$$`, `$&`, `` $` ``, `$'` in the replacement expanded as JS does."""
    start = text.index(placeholder)
    end = start + len(placeholder)
    expansions = {"$": "$", "&": placeholder, "`": text[:start], "'": text[end:]}
    expanded = _REPLACEMENT_PATTERN.sub(lambda m: expansions[m.group(1)], replacement)
    return text[:start] + expanded + text[end:]


def prepare_vars(vars: Mapping[str, Any]) -> dict[str, Any]:
    """The vars as promptfoo's `renderPrompt` leaves them for the assertions: one trailing "\n"
    removed from each string var, then `resolveVariables` (up to five passes, each replacing the
    first `{{ name }}` of each string var that names a defined var)."""
    prepared = {
        k: v[:-1] if isinstance(v, str) and v.endswith("\n") else v for k, v in vars.items()
    }
    keys = _js_key_order(list(prepared))
    for _ in range(5):
        resolved = True
        for key in keys:
            value = prepared[key]
            if not isinstance(value, str):
                continue
            m = _PLACEHOLDER.search(value)
            if m is None or m.group(1) not in prepared:
                continue
            replacement = js_string(prepared[m.group(1)])
            prepared[key] = _js_replace_first(value, m.group(0), replacement)
            resolved = False
        if resolved:
            break
    return prepared


def render_value(value: Any, vars: Mapping[str, Any]) -> Any:
    """promptfoo renders a string value, and each string element of a list value."""
    if isinstance(value, str):
        return render(value, vars)
    if isinstance(value, list):
        return [render(v, vars) if isinstance(v, str) else v for v in value]
    return value


def render_metric(metric: str | None, vars: Mapping[str, Any]) -> str | None:
    """Metric names are rendered too; promptfoo keeps the raw name when rendering fails."""
    if not metric:
        return metric
    try:
        return render(metric, vars)
    except UnsupportedTemplate:
        return metric
