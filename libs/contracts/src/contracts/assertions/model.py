"""The assertion engine's data: an assertion as promptfoo spells it, the verdicts, the grader seam
and the two configuration errors.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class AssertionProblem(ValueError):
    """An assertion that cannot be run as written."""


class InvalidAssertion(AssertionProblem):
    """The assertion is malformed: unknown type, missing or bad value, threshold, weight…"""


class UnsupportedAssertion(AssertionProblem):
    """A promptfoo assertion type this runner does not implement (javascript, python, g-eval…)."""

    def __init__(self, type: str) -> None:
        super().__init__(f'assertion type "{type}" is not supported by this test-runner')
        self.type = type


def _pass_field(description: str) -> Any:
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

    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1
    metric: str | None = None


class AssertionLike(Protocol):
    """What the engine reads from an assertion: `Assertion`, or an equivalent such as the
    test case's assertions (`contracts.testing`)."""

    @property
    def type(self) -> str: ...
    @property
    def value(self) -> Any: ...
    @property
    def threshold(self) -> float | None: ...
    @property
    def weight(self) -> float: ...
    @property
    def metric(self) -> str | None: ...


class RubricGrade(BaseModel):
    """What a grader answers for an llm-rubric: promptfoo's `{pass, score, reason}`."""

    model_config = ConfigDict(frozen=True, serialize_by_alias=True)

    pass_: bool = _pass_field("whether the output meets the rubric")
    score: float
    reason: str


class AssertionVerdict(BaseModel):
    model_config = ConfigDict(frozen=True, serialize_by_alias=True)

    type: str
    pass_: bool = _pass_field("false for a failure and for an error")
    score: float
    reason: str
    error: str | None = Field(default=None, description="set when the assertion could not be run")
    metric: str | None = Field(default=None, description="the rendered metric name")


class CaseVerdict(BaseModel):
    model_config = ConfigDict(frozen=True, serialize_by_alias=True)

    pass_: bool = _pass_field("the test case's verdict; false when `error` is set")
    score: float
    reason: str
    error: str | None = Field(default=None, description="set when the case is an error")
    named_scores: dict[str, float]
    assertions: list[AssertionVerdict]


class Grader(Protocol):
    """The model-graded seam; the test-runner implements it with the AI provider adapter."""

    async def rubric(self, output: str, rubric: str, vars: dict[str, Any]) -> RubricGrade: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...
