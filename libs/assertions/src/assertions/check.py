"""The contract between the engine and the per-type handlers: what a handler sees, what it returns,
and how it reports an error (promptfoo's thrown `invariant`, kept apart from a failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CheckError(Exception):
    """The assertion could not be evaluated: the case becomes an error, not a failure."""


@dataclass(frozen=True)
class Check:
    base_type: str
    inverse: bool
    output: str
    value: Any
    threshold: float | None
    metric: str | None
    latency_ms: float | None
    vars: dict[str, Any] = field(default_factory=dict)
    value_missing: bool = False  # no `value` at all (JS undefined), not an explicit null


@dataclass(frozen=True)
class Outcome:
    pass_: bool
    score: float
    reason: str


def passed_or(pass_: bool, failure_reason: str) -> Outcome:
    """A deterministic result: score 1 or 0, promptfoo's "Assertion passed" when it passes."""
    return Outcome(pass_, 1.0 if pass_ else 0.0, "Assertion passed" if pass_ else failure_reason)


def split_type(type_: str) -> tuple[str, bool]:
    """`not-x` is x inverted, as promptfoo's `isAssertionInverse` reads it."""
    return (type_[4:], True) if type_.startswith("not-") else (type_, False)


def not_(inverse: bool) -> str:
    return "not " if inverse else ""
