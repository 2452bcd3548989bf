"""Assertions and verdicts as they travel in messages (plain data): an assertion as promptfoo
spells it, and the verdicts the assertion engine (`libs/assertions`) gives on one output.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from contracts.storable import AnyJson, Number, Text


def pass_field(description: str) -> Any:
    """promptfoo's `pass`, a Python keyword: `pass_` in code, `pass` on the wire."""
    return Field(
        validation_alias=AliasChoices("pass", "pass_"),
        serialization_alias="pass",
        description=description,
    )


class Assertion(BaseModel):
    """One promptfoo assertion (`type`, `value`, `threshold`, `weight`, `metric`).

    Other promptfoo fields (transform, provider, rubricPrompt, config…) are refused rather than
    ignored, because ignoring them would change verdicts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Text
    value: AnyJson = None
    threshold: Number | None = None
    weight: Number = 1
    metric: Text | None = None


class AssertionVerdict(BaseModel):
    model_config = ConfigDict(frozen=True, serialize_by_alias=True)

    type: str
    pass_: bool = pass_field("false for a failure and for an error")
    score: float
    reason: str
    error: str | None = Field(default=None, description="set when the assertion could not be run")
    metric: str | None = Field(default=None, description="the rendered metric name")


class CaseVerdict(BaseModel):
    model_config = ConfigDict(frozen=True, serialize_by_alias=True)

    pass_: bool = pass_field("the test case's verdict; false when `error` is set")
    score: float
    reason: str
    error: str | None = Field(default=None, description="set when the case is an error")
    named_scores: dict[str, float]
    assertions: list[AssertionVerdict]
