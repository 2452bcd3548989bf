"""Filling compiled instructions' `{{variables}}`: one rule for every service that uses them
(the compiler checks it, the test-runner renders each case's system message, serving renders calls).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class RenderError(ValueError):
    """The instructions cannot be rendered with these values; the message names the variables."""


class VariableLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def default(self) -> str | None: ...


def render(instructions: str, variables: Sequence[VariableLike], values: Mapping[str, Any]) -> str:
    """Fill `{{name}}` placeholders. Never renders blanks: a required variable with no value, or a
    placeholder that is not declared, fails with the names. Non-string values are written as str()."""
    declared = {v.name: v for v in variables}
    undeclared = sorted({m for m in PLACEHOLDER.findall(instructions) if m not in declared})
    if undeclared:
        raise RenderError(f"variables used but not declared: {', '.join(undeclared)}")
    missing = sorted(
        v.name for v in variables if v.required and v.name not in values and v.default is None
    )
    if missing:
        raise RenderError(f"missing values for required variables: {', '.join(missing)}")

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        default = declared[name].default
        return "" if default is None else str(default)

    return PLACEHOLDER.sub(value, instructions)
