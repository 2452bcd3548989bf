"""HTTP models of test cases, their import, and test runs with their results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.runs import REPEAT_MAX
from contracts.storable import Number, Text
from contracts.testing import TestCaseSpec


class TestCasePublic(TestCaseSpec):
    id: UUID
    created_at: datetime
    updated_at: datetime


class TestCasesPublic(BaseModel):
    items: list[TestCasePublic]
    next_cursor: str | None


class DroppedAssertion(BaseModel):
    type: str
    reason: str


class ImportedCase(BaseModel):
    index: int = Field(description="The test's position in the imported list, from 0.")
    status: Literal["imported", "skipped"]
    id: UUID | None = None
    description: str | None = None
    dropped: list[DroppedAssertion] = Field(
        default_factory=list,
        description="Assertions left out because Agent Studio does not run them.",
    )
    problem: str | None = Field(default=None, description="Why the test was skipped.")


class ImportReport(BaseModel):
    imported: int
    skipped: int
    cases: list[ImportedCase]


class TestRunCreate(BaseModel):
    """Run the agent's test cases (as they are now) against one of its compilations."""

    model_config = ConfigDict(extra="forbid")

    compilation_id: UUID
    repeat: int = Field(
        default=1, strict=True, ge=1, le=REPEAT_MAX, description="Times each case runs (flakiness)."
    )
    model: Text | None = Field(
        default=None, min_length=1, max_length=200, description="None: the configured model."
    )
    temperature: Number | None = Field(default=None, ge=0, le=2)
    cache: bool = Field(
        default=False,
        description="Reuse identical earlier answers (never for repeats or latency assertions).",
    )


CaseOutcomePublic = Literal["passed", "failed", "flaky", "errored"]
TestRunStatus = Literal["queued", "running", "paused", "completed", "cancelled", "failed"]


class TestRunAccepted(BaseModel):
    id: UUID
    status: TestRunStatus | Literal["cancelling"]


class TestRunSummaryPublic(BaseModel):
    """A run's status and counts. Cases count once whatever `repeat` is; `flaky` cases both passed
    and failed and are counted in `failed`; `pass_rate = passed / (passed + failed)`, errors
    (the provider failed, an assertion could not run) reported beside it."""

    id: UUID
    agent_id: UUID
    compilation_id: UUID
    status: TestRunStatus
    reason: str | None = Field(description="Why the run is paused, cancelled or failed.")
    total: int = Field(description="Cases in the run.")
    repeat: int
    executions: int = Field(description="total x repeat")
    executed: int = Field(description="Executions recorded so far.")
    passed: int
    failed: int
    errored: int
    flaky: int
    pass_rate: float | None
    model: str | None
    temperature: float | None
    cache: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TokensPublic(BaseModel):
    prompt: int
    completion: int


class AssertionResultPublic(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    type: str
    pass_: bool = Field(alias="pass")
    score: float
    reason: str
    error: str | None = None
    metric: str | None = None


class TestResultPublic(BaseModel):
    """One execution of one case."""

    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    test_case_id: UUID
    case_index: int
    repeat_index: int
    description: str | None
    pass_: bool = Field(alias="pass")
    error: str | None = Field(description="Set when the case could not be judged.")
    score: float
    reason: str
    output: str | None
    latency_ms: float | None
    cached: bool
    offline: bool = Field(
        description="Written by the offline stand-in (no AI provider configured), not by a model."
    )
    tokens: TokensPublic
    assertions: list[AssertionResultPublic]
    named_scores: dict[str, float]


class TestRunPublic(TestRunSummaryPublic):
    results: list[TestResultPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page of results.")


class TestRunsPublic(BaseModel):
    items: list[TestRunSummaryPublic]
    next_cursor: str | None


class ComparedCase(BaseModel):
    test_case_id: UUID
    description: str | None
    before: CaseOutcomePublic = Field(description="Its outcome in the run behind production.")
    now: CaseOutcomePublic = Field(description="Its outcome in this run.")


class TestRunComparisonPublic(BaseModel):
    """This run beside the run behind the version on production, case by case, by the publish
    gate's rule: a case that passed there and fails (or is flaky) here has regressed."""

    run_id: UUID
    production_version: int | None = Field(
        description="The version on production; None when nothing is published there."
    )
    base_run_id: UUID | None = Field(
        description="The run behind that version; None when there is none (nothing on "
        "production, or an imported version no run here was published with)."
    )
    regressed: list[ComparedCase] = Field(description="Passed there, fail now.")
    fixed: list[ComparedCase] = Field(description="Failed there, pass now.")
    unchanged: list[ComparedCase] = Field(description="The same verdict in both.")
