"""Rendering of assertion values and metric names with the test vars, as promptfoo does.

The template language is the Nunjucks subset in `nunjucks` (`{{ expr }}` with lookups, literals,
`+`, `~`, `not`/`and`/`or` and common filters; comments; raw blocks; if blocks). Text outside it raises `UnsupportedTemplate`
(validation refuses it) rather than being compared literally where promptfoo would have
interpreted it; a filter that would throw in Nunjucks raises `TemplateRenderError`.

`prepare_vars` rewrites the vars first, as promptfoo's `renderPrompt` does before the assertions
see them: one trailing newline stripped, `{{ name }}` inside a var resolved (`resolveVariables`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assertions.jsregex_chars import SPACE
from assertions.jsvalues import js_string
from assertions.nunjucks import (
    TemplateError,
    TemplateRenderError,
    UnsupportedTemplate,
    parse,
    render,
)

__all__ = [
    "TemplateError",
    "TemplateRenderError",
    "UnsupportedTemplate",
    "check_template",
    "prepare_vars",
    "render",
    "render_metric",
    "render_value",
]


def check_template(text: str) -> None:
    """Raise `UnsupportedTemplate` if the text is outside the supported Nunjucks subset."""
    parse(text)


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
    except TemplateError:
        return metric
