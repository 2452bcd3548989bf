"""The assertion engine's own data: the grader seam and its answer, and the two configuration
errors. What travels in messages (`Assertion`, the verdicts) lives in `contracts.verdicts`.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from contracts.verdicts import pass_field


class AssertionProblem(ValueError):
    """An assertion that cannot be run as written."""


class InvalidAssertion(AssertionProblem):
    """The assertion is malformed: unknown type, missing or bad value, threshold, weight…"""


class UnsupportedAssertion(AssertionProblem):
    """A promptfoo assertion type this runner does not implement (javascript, python, g-eval…)."""

    def __init__(self, type: str) -> None:
        super().__init__(f'assertion type "{type}" is not supported by this test-runner')
        self.type = type


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

    pass_: bool = pass_field("whether the output meets the rubric")
    score: float
    reason: str


class Grader(Protocol):
    """The model-graded seam; the test-runner implements it with the AI provider adapter."""

    async def rubric(self, output: str, rubric: str, vars: dict[str, Any]) -> RubricGrade: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...
